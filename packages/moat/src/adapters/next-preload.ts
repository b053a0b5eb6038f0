// Preloaded before `next start` opens its port (NODE_OPTIONS='--import moat-waf/adapters/next-preload'),
// so Moat knows the connection of every request, even those that arrive while Next is still starting
// and before it has run instrumentation.ts or loaded proxy.ts. Loads nothing but the request context.
import { nodeRequestContexts } from './node-request-context.js';

nodeRequestContexts();
