// Redis for the shared rate-limit tests: MOAT_TEST_REDIS_URL when CI provides one, otherwise a throw-away
// redis-server on 127.0.0.1 started by scripts/ensure-redis.sh (which installs Debian's package when
// missing). No Redis is a test failure, never a skip. Every test uses its own key prefix.
// startTestRedisCluster: a throw-away three-node Redis Cluster from scripts/ensure-redis-cluster.sh.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { once } from 'node:events';
import net from 'node:net';
import path from 'node:path';
import { after, before } from 'node:test';
import { fileURLToPath } from 'node:url';
import { Cluster, Redis } from 'ioredis';
import { writeRulesFile } from '../../src/index.js';
import { RATE_LIMIT_REDIS_OPTIONS } from '../../src/ratelimit/redis.js';
import { makeTmpDir, rateLimit, removeDir } from './engine-kit.js';

const ENSURE_REDIS = fileURLToPath(new URL('../../../../scripts/ensure-redis.sh', import.meta.url));
const ENSURE_REDIS_CLUSTER = fileURLToPath(new URL('../../../../scripts/ensure-redis-cluster.sh', import.meta.url));

export interface TestRedis {
  url: string;
  stop(): void;
}

export function startTestRedis(): TestRedis {
  const fromEnv = process.env.MOAT_TEST_REDIS_URL;
  if (fromEnv) return { url: fromEnv, stop: () => {} };
  const run = spawnSync('bash', [ENSURE_REDIS], { encoding: 'utf8', timeout: 180_000 });
  const port = run.stdout?.trim().split('\n').pop() ?? '';
  if (run.status !== 0 || !/^\d+$/.test(port)) {
    throw new Error(`cannot start Redis for the tests (scripts/ensure-redis.sh exited ${run.status}): ${run.stderr ?? run.error}`);
  }
  return {
    url: `redis://127.0.0.1:${port}`,
    stop: () => { spawnSync('bash', [ENSURE_REDIS, 'stop', port], { timeout: 10_000 }); },
  };
}

export interface TestRedisCluster {
  /** The three masters (every slot is served by one of them; no replicas). */
  nodes: { host: string; port: number }[];
  /** Stops the three nodes and deletes their files; idempotent (also run when the process exits). */
  stop(): void;
}

/**
 * A throw-away Redis Cluster of three masters on 127.0.0.1 (scripts/ensure-redis-cluster.sh, which
 * installs Debian's redis-server when missing and returns once every node reports cluster_state:ok).
 * No cluster is a test failure, never a skip. There is no environment override as for startTestRedis:
 * the cluster tests flush scripts and move slots between nodes, which must never happen to a shared one.
 */
export function startTestRedisCluster(): TestRedisCluster {
  const run = spawnSync('bash', [ENSURE_REDIS_CLUSTER], { encoding: 'utf8', timeout: 600_000 });
  const ports = run.stdout?.trim().split('\n').pop()?.split(' ') ?? [];
  if (run.status !== 0 || ports.length !== 3 || !ports.every((p) => /^\d+$/.test(p))) {
    throw new Error(`cannot start a Redis Cluster for the tests (scripts/ensure-redis-cluster.sh exited ${run.status}): ${run.stderr ?? run.error}`);
  }
  let stopped = false;
  const stop = () => {
    if (stopped) return;
    stopped = true;
    process.off('exit', stop);
    spawnSync('bash', [ENSURE_REDIS_CLUSTER, 'stop', ports[0]!], { timeout: 60_000 });
  };
  // A file that dies before its `after` hook runs still leaves no servers behind (spawnSync works in 'exit').
  process.once('exit', stop);
  return { nodes: ports.map((port) => ({ host: '127.0.0.1', port: Number(port) })), stop };
}

/**
 * An ioredis Cluster set up as docs/deploy.md says for the rate-limit store: no offline queue for the
 * cluster (a command fails at once while it is not connected) and RATE_LIMIT_REDIS_OPTIONS for each
 * node's connection (ioredis keeps a node's own offline queue on, whatever is passed). Connected.
 */
export async function connectCluster(nodes: readonly { host: string; port: number }[]): Promise<Cluster> {
  const cluster = new Cluster([...nodes], { enableOfflineQueue: false, redisOptions: RATE_LIMIT_REDIS_OPTIONS, lazyConnect: true });
  await cluster.connect();
  return cluster;
}

export interface LoginLimitFixture {
  server: TestRedis;
  /** A rules file whose only rule limits `/login` (id `login`). */
  rules: string;
}

/**
 * Registers before/after hooks that start Redis and write a rules file limiting `/login` to `limit` a
 * minute, and stop/remove both again. The fields are set once the `before` hook has run.
 */
export function loginLimitFixture(limit: number): LoginLimitFixture {
  const fixture = {} as LoginLimitFixture;
  let dir: string | undefined;
  before(() => {
    fixture.server = startTestRedis();
    dir = makeTmpDir();
    fixture.rules = path.join(dir, 'rules.db');
    writeRulesFile([rateLimit('/login', limit, '1m', { id: 'login' })], fixture.rules);
  });
  after(() => {
    fixture.server?.stop();
    if (dir) removeDir(dir);
  });
  return fixture;
}

/** A connected client with the recommended rate-limit options (fails fast while disconnected). */
export async function connect(url: string): Promise<Redis> {
  const redis = new Redis(url, { ...RATE_LIMIT_REDIS_OPTIONS, lazyConnect: true });
  await redis.connect();
  return redis;
}

/** Registers hooks that start Redis and connect to it (handing the client to `onConnect`), then disconnect and stop. */
export function withTestRedis(onConnect: (redis: Redis) => void): void {
  let server: TestRedis | undefined;
  let client: Redis | undefined;
  before(async () => {
    server = startTestRedis();
    client = await connect(server.url);
    onConnect(client);
  });
  after(() => {
    client?.disconnect();
    server?.stop();
  });
}

export function uniquePrefix(): string {
  return `moat-test:${randomBytes(6).toString('hex')}:`;
}

/** A port nothing listens on (bound, then closed again). */
export async function closedPort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as net.AddressInfo).port;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

/**
 * A TCP proxy in front of Redis whose replies can be held back: while `hold` is on, bytes from Redis are
 * kept instead of forwarded, so a command is sent but its answer does not come. Stands for a slow Redis.
 */
export class HoldingProxy {
  hold = false;
  /** Reply bytes held back so far. */
  heldBytes = 0;
  private readonly server: net.Server;
  private readonly sockets = new Set<net.Socket>();
  private readonly held: { to: net.Socket; data: Buffer }[] = [];

  constructor(private readonly target: { host: string; port: number }) {
    this.server = net.createServer((client) => {
      const upstream = net.connect(target.port, target.host);
      this.sockets.add(client).add(upstream);
      client.on('data', (d) => upstream.write(d));
      upstream.on('data', (d) => {
        if (this.hold) {
          this.heldBytes += d.length;
          this.held.push({ to: client, data: d });
        } else client.write(d);
      });
      const end = () => { client.destroy(); upstream.destroy(); };
      client.on('error', end).on('close', end);
      upstream.on('error', end).on('close', end);
    });
  }

  async listen(): Promise<number> {
    await new Promise<void>((resolve) => this.server.listen(0, '127.0.0.1', resolve));
    return (this.server.address() as net.AddressInfo).port;
  }

  release(): void {
    this.hold = false;
    for (const { to, data } of this.held.splice(0)) if (!to.destroyed) to.write(data);
  }

  async close(): Promise<void> {
    for (const s of this.sockets) s.destroy();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}

export function redisTarget(url: string): { host: string; port: number } {
  const u = new URL(url);
  return { host: u.hostname, port: Number(u.port || 6379) };
}

/** A redis-server of the test's own on `port` (the binary scripts/ensure-redis.sh installed), without persistence, answering PING. */
export async function redisServer(port: number): Promise<ChildProcess> {
  const child = spawn('redis-server', ['--bind', '127.0.0.1', '--port', String(port), '--save', '', '--appendonly', 'no'], { stdio: 'ignore' });
  const spawnError = once(child, 'error').then(([e]) => { throw new Error(`cannot run redis-server: ${(e as Error).message}`); });
  for (let i = 0; ; i++) {
    const pong = await Promise.race([spawnError, new Promise<boolean>((resolve) => {
      const socket = net.connect(port, '127.0.0.1', () => socket.write('PING\r\n'));
      socket.once('data', (d) => { socket.destroy(); resolve(d.toString().startsWith('+PONG')); });
      socket.once('error', () => resolve(false));
    })]);
    if (pong) return child;
    if (i > 400) throw new Error(`redis-server did not answer on port ${port}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}
