// Moat in front of every request Nitro serves (API and server routes, rendered pages). Nitro 2 runs on
// h3 1, so the adapter judges Node's own request: the client IP from the socket, the body left for readBody().
import { moat } from 'moat-waf/adapters/h3';

export default moat({ rules: process.env.MOAT_RULES ?? 'rules.moat' });
