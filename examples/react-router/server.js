// React Router v7 (framework mode) behind Express, with Moat's Express adapter first. Build and run:
//   npx react-router build && MOAT_RULES=rules.moat node server.js
// Moat judges every request here, before static files, route matching, loaders and actions, by the
// socket's address and the bytes the client sent (forms peeked from the stream, left whole for the app).
import express from 'express';
import { createRequestHandler } from '@react-router/express';
import { moat } from 'moat-waf/adapters/express';

const app = express();
app.disable('x-powered-by');
app.use(moat({ rules: process.env.MOAT_RULES ?? 'rules.moat' }));
app.use('/assets', express.static('build/client/assets', { immutable: true, maxAge: '1y' }));
app.use(express.static('build/client', { maxAge: '1h' }));
app.use(createRequestHandler({ build: () => import('./build/server/index.js') }));

const host = process.env.HOST ?? '127.0.0.1';
const port = Number(process.env.PORT ?? 3000);
app.listen(port, host, () => console.log(`moat example (react-router) listening on http://${host}:${port}`));
