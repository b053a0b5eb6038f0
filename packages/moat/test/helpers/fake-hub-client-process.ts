// A child process running a managed firewall (forked by the multi-process sync tests). Options come as
// JSON in argv[2]; the parent asks for status over IPC and tells it to close.
import { createManagedFirewall, type ManagedFirewallOptions } from '../../src/managed/managed-firewall.js';

const options = JSON.parse(process.argv[2] ?? '{}') as ManagedFirewallOptions;
const fw = createManagedFirewall({ ...options, logger: false, env: {}, upsync: false });

const send = (message: object) => process.send?.(message);

process.on('message', (message: { type: string }) => {
  if (message.type === 'status') send({ type: 'status', status: fw.status() });
  if (message.type === 'close') void fw.close().then(() => process.exit(0));
});

void fw.ready().then((status) => send({ type: 'ready', status }));
