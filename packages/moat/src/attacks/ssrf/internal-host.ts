/**
 * Whether a URL host names the server itself or its cloud metadata service, in every spelling a URL
 * parser or `inet_aton` accepts: `127.1`, `0x7f.1`, `0177.0.0.1`, `2130706433`, `[::1]`,
 * `[::ffff:127.0.0.1]`, `[::ffff:7f00:1]`, `localhost.`, `*.localhost`, and DNS names that resolve to
 * loopback by design (`127.0.0.1.nip.io`, `localtest.me`).
 */
const INTERNAL_NAMES = new Set([
  'localhost', 'localhost.localdomain', 'ip6-localhost', 'ip6-loopback', 'metadata', 'metadata.google.internal',
  'metadata.goog', 'instance-data', 'instance-data.ec2.internal', 'metadata.azure.com', 'kubernetes.default',
  'kubernetes.default.svc', 'localtest.me', 'lvh.me', 'vcap.me', 'lacolhost.com', 'fbi.com', 'spoofed.burpcollaborator.net',
  'burpcollaborator.net', 'oracle-cloud-metadata', 'metadata.packet.net', 'metadata.tencentyun.com',
  // The host machine as seen from a container (Docker Desktop, Podman), and the Kubernetes API by its full name.
  'host.docker.internal', 'gateway.docker.internal', 'host.containers.internal', 'kubernetes.default.svc.cluster.local',
]);

/** Domains that answer with the IP written in the name (`127.0.0.1.nip.io`). */
const WILDCARD_DNS = ['.nip.io', '.sslip.io', '.xip.io', '.traefik.me', '.localtest.me', '.lvh.me', '.vcap.me', '.localhost', '.svc.cluster.local'];

/** The last labels of the names and suffixes above: a name whose last label is none of them is public. */
const INTERNAL_LAST_LABELS = new Set([...INTERNAL_NAMES, ...WILDCARD_DNS].map((name) => name.slice(name.lastIndexOf('.') + 1)));

export interface HostVerdict {
  internal: boolean;
  /** Written in a form no one uses by hand (hex, octal, one number, short dotted). */
  unusual: boolean;
}

/** Classifies a lower-cased host (brackets kept for IPv6); null when it is an ordinary public name. */
export function classifyHost(host: string): HostVerdict | null {
  let h = host;
  if (h.endsWith('.')) h = h.slice(0, -1);
  // Most hosts are public names: a last label ending in a letter that is no internal name's last label
  // (nor a hex number like 0xa9fea9fe), or, ending otherwise, not starting with a digit as addresses do.
  // Tested by characters and one set look-up: a body of thousands of URLs pays this once per URL.
  const last = h.charCodeAt(h.length - 1);
  const first = h.charCodeAt(0);
  if (last >= 0x61 && last <= 0x7a) {
    const dot = h.lastIndexOf('.');
    const hex = h.charCodeAt(dot + 1) === 0x30 && h.charCodeAt(dot + 2) === 0x78;
    if (!hex && !INTERNAL_LAST_LABELS.has(dot < 0 ? h : h.slice(dot + 1))) return null;
    if (!hex && !INTERNAL_NAMES.has(h) && !/(?:^|\.)(?:localhost|nip\.io|sslip\.io|xip\.io|traefik\.me|localtest\.me|lvh\.me|vcap\.me|svc\.cluster\.local)$/.test(h)) return null;
  } else if (first !== 0x5b && (first < 0x30 || first > 0x39)) return null;
  if (first === 0x5b) {
    const v6 = parseIpv6(h.slice(1, h.indexOf(']') < 0 ? h.length : h.indexOf(']')));
    return v6 !== null && isInternalV6(v6) ? { internal: true, unusual: true } : null;
  }
  if (INTERNAL_NAMES.has(h)) return { internal: true, unusual: false };
  for (const suffix of WILDCARD_DNS) {
    if (h.endsWith(suffix)) {
      // A Kubernetes service name reaches inside the cluster, which the outside never could.
      if (suffix === '.localhost' || suffix === '.svc.cluster.local' || suffix === '.localtest.me' || suffix === '.lvh.me' || suffix === '.vcap.me') return { internal: true, unusual: true };
      const embedded = h.slice(0, -suffix.length).match(/(\d+[.-]\d+[.-]\d+[.-]\d+)$/)?.[1];
      if (embedded !== undefined) {
        const v4 = parseIpv4(embedded.replaceAll('-', '.'));
        if (v4 !== null && isInternalV4(v4)) return { internal: true, unusual: true };
      }
    }
  }
  const v4 = parseIpv4(h);
  if (v4 === null) return null;
  const canonical = /^\d{1,3}\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(h) && !/(^|\.)0\d/.test(h);
  return isInternalV4(v4) ? { internal: true, unusual: !canonical } : null;
}

const LEADING_ZEROS = /(^|\.)(0x)?0+(?=[0-9a-f])/gi;

/** inet_aton: 1 to 4 parts, each decimal, octal (leading 0) or hex (0x); the last part fills the rest. */
export function parseIpv4(text: string): number | null {
  let h = text;
  // WHATWG reads any number of leading zeros (`0x000…0a9`, `000…0177`): dropped in one pass, keeping
  // one `0` for octal; what is left of an address is short.
  if (h.length > 64) h = h.replace(LEADING_ZEROS, (_, dot: string, hex: string | undefined) => dot + (hex ?? '0'));
  if (h.length === 0 || h.length > 64) return null;
  const parts = h.split('.');
  if (parts.length > 4) return null;
  const nums: number[] = [];
  for (const p of parts) {
    let v: number;
    if (/^0x[0-9a-f]*$/i.test(p)) v = p.length === 2 ? 0 : parseInt(p.slice(2), 16);
    else if (/^0[0-7]+$/.test(p)) v = parseInt(p, 8);
    else if (/^\d+$/.test(p)) v = parseInt(p, 10);
    else return null;
    if (!Number.isFinite(v)) return null;
    nums.push(v);
  }
  const last = nums.pop()!;
  for (const v of nums) if (v > 255) return null;
  const restBits = 8 * (4 - nums.length);
  if (last >= 2 ** restBits) return null;
  let ip = 0;
  nums.forEach((v, k) => {
    ip += v * 2 ** (24 - 8 * k);
  });
  return ip + last;
}

export function isInternalV4(ip: number): boolean {
  const a = Math.floor(ip / 2 ** 24);
  const b = Math.floor(ip / 2 ** 16) & 0xff;
  return (
    a === 127 || a === 0 || (a === 169 && b === 254) || // loopback, "this host", link-local (metadata at 169.254.169.254)
    ip === 0x646464c8 // 100.100.100.200: Alibaba Cloud metadata
  );
}

/** Eight 16-bit groups, or null. Accepts `::`, an embedded IPv4 tail and a zone id. */
export function parseIpv6(text: string): number[] | null {
  let t = text.split('%')[0] ?? '';
  if (t.length === 0 || t.length > 64) return null;
  let tail: number[] = [];
  const lastColon = t.lastIndexOf(':');
  if (t.indexOf('.', lastColon) > lastColon) {
    const v4 = parseIpv4(t.slice(lastColon + 1));
    if (v4 === null) return null;
    tail = [Math.floor(v4 / 65536), v4 & 0xffff];
    t = t.slice(0, lastColon + 1) + (t.endsWith('::') || t.slice(lastColon - 1, lastColon + 1) === '::' ? '' : '0');
    if (!t.endsWith('::') && t.endsWith(':0')) t = t.slice(0, -2);
  }
  const halves = t.split('::');
  if (halves.length > 2) return null;
  const parse = (x: string) => (x === '' ? [] : x.split(':').map((g) => (/^[0-9a-f]{1,4}$/i.test(g) ? parseInt(g, 16) : NaN)));
  const head = parse(halves[0] ?? '');
  const rest = halves.length === 2 ? parse(halves[1] ?? '') : [];
  const groups = halves.length === 2 ? [...head, ...new Array(Math.max(0, 8 - head.length - rest.length - tail.length)).fill(0), ...rest, ...tail] : [...head, ...tail];
  if (groups.length !== 8 || groups.some((g) => Number.isNaN(g))) return null;
  return groups;
}

/** `g`: the eight groups parseIpv6 returns. */
function isInternalV6(g: number[]): boolean {
  const [g0 = 0, g1 = 0, , , , g5 = 0, g6 = 0, g7 = 0] = g;
  const zeroTo = (k: number) => g.slice(0, k).every((x) => x === 0);
  if (zeroTo(7) && (g7 === 1 || g7 === 0)) return true; // ::1, ::
  if ((g0 & 0xffc0) === 0xfe80) return true; // link-local
  if (g0 === 0xfd00 && g1 === 0x0ec2 && g7 === 0x254) return true; // AWS metadata over IPv6
  const v4 = g6 * 65536 + g7;
  if (zeroTo(5) && (g5 === 0xffff || g5 === 0)) return isInternalV4(v4); // ::ffff:a.b.c.d, ::a.b.c.d
  if (g0 === 0x64 && g1 === 0xff9b && zeroTo(0)) return isInternalV4(v4); // NAT64
  return false;
}
