// A child process running a node:http app behind a Moat managed firewall, for end-to-end tests with
// several app instances behind one hub. Options (createManagedFirewall's, as JSON) come in argv[2];
// the child answers `{type:'ready', url}` once its firewall has rules and it listens on 127.0.0.1, and
// `{type:'status', status}` when asked; it closes on `{type:'close'}`.
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createManagedFirewall, type ManagedFirewallOptions } from 'moat-waf';
import { withMoat } from 'moat-waf/adapters/node';

const options = JSON.parse(process.argv[2] ?? '{}') as ManagedFirewallOptions;
const fw = createManagedFirewall({ ...options, logger: false, env: {} });
const server = createServer(withMoat((_req, res) => {
  res.end('ok');
}, fw));
const send = (message: object) => process.send?.(message);

process.on('message', (message: { type: string }) => {
  if (message.type === 'status') send({ type: 'status', status: fw.status() });
  if (message.type === 'close') {
    server.closeAllConnections();
    server.close();
    void fw.close().then(() => process.exit(0));
  }
});

void fw.ready().then(() => {
  server.listen(0, '127.0.0.1', () => send({ type: 'ready', url: `http://127.0.0.1:${(server.address() as AddressInfo).port}` }));
});
