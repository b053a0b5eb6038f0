// Synthetic traffic for the demo: ordinary visitors plus scanners, credential stuffing and a Tor exit,
// sent to a demo app on 127.0.0.1 only. Clients are told apart by X-Forwarded-For, which the demo app
// believes because its peer (this process, on loopback) is configured as a trusted proxy.
// Bounded by a request count and a duration, and stoppable with an AbortSignal.

import { request } from 'node:http';
import { rng as random } from '../bench/lib/measure.js';
import { DEMO_MONITOR_IP } from './seed.js';

export interface TrafficOptions {
  /** Base URL of the demo app; must be a loopback address. */
  target: string;
  /** Requests per second, on average. */
  rate?: number;
  durationMs?: number;
  maxRequests?: number;
  /** Addresses that the demo's `tor` list contains; the Tor persona uses them. */
  torExits?: readonly string[];
  signal?: AbortSignal;
  /** Deterministic runs for tests. */
  seed?: number;
  onResponse?: (persona: string, status: number) => void;
}

export interface TrafficSummary {
  sent: number;
  byStatus: Record<string, number>;
  failed: number;
}

interface Shot {
  persona: string;
  ip: string;
  method: string;
  path: string;
  userAgent: string;
  body?: string;
}

const BROWSERS = [
  'Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0 Safari/537.36',
  'Mozilla/5.0 (Macintosh; Intel Mac OS X 14_6) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.1 Safari/605.1.15',
  'Mozilla/5.0 (X11; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0',
  'Mozilla/5.0 (iPhone; CPU iPhone OS 18_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Mobile/15E148',
];
const PAGES = ['/', '/', '/products', '/products/42', '/products/7', '/about', '/search?q=shoes', '/search?q=red+hat', '/cart', '/api/items?page=2'];
/** What the scanner persona probes; the demo rules refuse all but /admin (a shop may have one) and /xmlrpc.php (monitored). */
export const SCAN_PATHS = ['/wp-admin/', '/wp-login.php', '/.env', '/.git/config', '/phpmyadmin/', '/admin', '/xmlrpc.php', '/backup.zip'];
const SCAN_AGENTS = ['sqlmap/1.8.11#stable (https://sqlmap.org)', 'Nikto/2.5.0', 'Mozilla/5.0 zgrab/0.x', 'masscan/1.3'];
// Percent-encoded as a client must send them; Moat decodes parameters before matching.
export const INJECTIONS = ["/search?q='%20union%20select%20password%20from%20users--", '/search?q=%3Cscript%3Ealert(1)%3C/script%3E', '/products?id=1;DROP%20TABLE%20users'];

/** Public-looking unicast IPv4 addresses (no private, loopback, multicast or reserved first octets). */
function publicIps(next: () => number, count: number): string[] {
  const out: string[] = [];
  while (out.length < count) {
    const a = 1 + Math.floor(next() * 222);
    if (a === 10 || a === 127 || a === 100 || a === 169 || a === 172 || a === 192 || a === 198 || a === 203) continue;
    out.push(`${a}.${Math.floor(next() * 256)}.${Math.floor(next() * 256)}.${1 + Math.floor(next() * 254)}`);
  }
  return out;
}

export function trafficPlan(seed = 7, torExits: readonly string[] = []) {
  const next = random(seed);
  const pick = <T>(items: readonly T[]): T => items[Math.floor(next() * items.length)]!;
  const visitors = publicIps(next, 60);
  const scanners = publicIps(next, 4);
  const stuffers = publicIps(next, 3);
  const v6Visitors = ['2a02:26f0:1:2::17', '2001:4860:4860::8844', '2606:4700:10::ac43:1'];

  return function nextShot(): Shot {
    const roll = next();
    if (roll < 0.72) {
      const ip = next() < 0.08 ? pick(v6Visitors) : pick(visitors);
      return { persona: 'visitor', ip, method: 'GET', path: pick(PAGES), userAgent: pick(BROWSERS) };
    }
    if (roll < 0.84) {
      const path = next() < 0.7 ? pick(SCAN_PATHS) : pick(INJECTIONS);
      return { persona: 'scanner', ip: pick(scanners), method: 'GET', path, userAgent: pick(SCAN_AGENTS) };
    }
    if (roll < 0.92) {
      const user = `user${Math.floor(next() * 10_000)}@example.com`;
      const body = `email=${encodeURIComponent(user)}&password=${Math.floor(next() * 1e9).toString(36)}`;
      return { persona: 'credential-stuffing', ip: pick(stuffers), method: 'POST', path: '/login', userAgent: pick(BROWSERS), body };
    }
    if (roll < 0.95) {
      return { persona: 'uptime-monitor', ip: DEMO_MONITOR_IP, method: 'GET', path: '/', userAgent: 'UptimeRobot/2.0 (+http://www.uptimerobot.com/)' };
    }
    const ip = torExits.length > 0 ? pick(torExits) : pick(visitors);
    return { persona: 'tor', ip, method: 'GET', path: pick(PAGES), userAgent: pick(BROWSERS) };
  };
}

function send(target: URL, shot: Shot): Promise<number> {
  return new Promise((resolve, reject) => {
    const headers: Record<string, string | number> = { 'user-agent': shot.userAgent, 'x-forwarded-for': shot.ip, connection: 'keep-alive' };
    if (shot.body !== undefined) {
      headers['content-type'] = 'application/x-www-form-urlencoded';
      headers['content-length'] = Buffer.byteLength(shot.body);
    }
    const req = request({ host: target.hostname, port: target.port, method: shot.method, path: shot.path, headers, timeout: 5_000 }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode ?? 0));
    });
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', reject);
    req.end(shot.body);
  });
}

/** Sends traffic until the duration, the request count or the signal ends it. */
export async function runTraffic(options: TrafficOptions): Promise<TrafficSummary> {
  const target = new URL(options.target);
  if (!['127.0.0.1', 'localhost', '[::1]'].includes(target.hostname)) {
    throw new Error(`demo traffic only goes to loopback addresses, not ${target.hostname}`);
  }
  const rate = Math.max(1, options.rate ?? 20);
  const deadline = Date.now() + (options.durationMs ?? 60_000);
  const maxRequests = options.maxRequests ?? 100_000;
  const nextShot = trafficPlan(options.seed ?? 7, options.torExits ?? []);
  const summary: TrafficSummary = { sent: 0, byStatus: {}, failed: 0 };
  const inFlight = new Set<Promise<void>>();

  while (summary.sent < maxRequests && Date.now() < deadline && !options.signal?.aborted) {
    const shot = nextShot();
    summary.sent++;
    const p = send(target, shot)
      .then((status) => {
        summary.byStatus[status] = (summary.byStatus[status] ?? 0) + 1;
        options.onResponse?.(shot.persona, status);
      })
      .catch(() => { summary.failed++; })
      .finally(() => inFlight.delete(p));
    inFlight.add(p);
    if (inFlight.size >= 20) await Promise.race(inFlight);
    await new Promise((r) => setTimeout(r, Math.round(1000 / rate)));
  }
  await Promise.all(inFlight);
  return summary;
}
