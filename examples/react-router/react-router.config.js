// Framework mode, server rendering: `react-router build` writes build/server and build/client.
/** @type {import('@react-router/dev/config').Config} */
export default { ssr: true };
