// A child process running a node:http app behind a Moat managed firewall that answers 404 to every
// path under /nope (a scanner's probes) and 200 elsewhere, for the end-to-end test of status-based
// threshold rules. Options (createManagedFirewall's, as JSON) come in argv[2]; it answers
// `{type:'ready', url}` once its firewall has rules and it listens, and closes on `{type:'close'}`.
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createManagedFirewall, type ManagedFirewallOptions } from 'moat-waf';
import { withMoat } from 'moat-waf/adapters/node';

const options = JSON.parse(process.argv[2] ?? '{}') as ManagedFirewallOptions;
const fw = createManagedFirewall({ ...options, logger: false, env: {} });
const server = createServer(withMoat((req, res) => {
  res.statusCode = req.url?.startsWith('/nope') ? 404 : 200;
  res.end('.');
}, fw));

process.on('message', (message: { type: string }) => {
  if (message.type === 'close') {
    server.closeAllConnections();
    server.close();
    void fw.close().then(() => process.exit(0));
  }
});

void fw.ready().then(() => {
  server.listen(0, '127.0.0.1', () => process.send?.({ type: 'ready', url: `http://127.0.0.1:${(server.address() as AddressInfo).port}` }));
});
