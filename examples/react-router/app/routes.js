import { index, route } from '@react-router/dev/routes';

export default [
  index('routes/home.js'),
  route('login', 'routes/login.js'),
  route('form', 'routes/form.js'),
  // Any other path: the app answers, so a request Moat lets through is visible as `hello`.
  route('*', 'routes/any.js'),
];
