/**
 * HTML character references as a browser resolves them in an attribute or text: `&#106;`, `&#x6A;`,
 * leading zeros, a missing `;`, and the named ones attackers use to hide syntax (`&colon;`, `&Tab;`,
 * `&lpar;`…). Unknown names stay as written.
 */
import { addWork } from '../work-counter.js';
import { HTML_NAMED_ENTITIES } from '../words/html.js';

function isAlnum(c: number): boolean {
  return (c >= 0x30 && c <= 0x39) || ((c | 0x20) >= 0x61 && (c | 0x20) <= 0x7a);
}

export function decodeHtmlEntities(s: string): string {
  const n = s.length;
  addWork(n);
  let out = '';
  let last = 0;
  for (let i = s.indexOf('&'); i >= 0 && i < n; i = s.indexOf('&', i + 1)) {
    let j = i + 1;
    let code = -1;
    if (s.charCodeAt(j) === 0x23) {
      j++;
      const isHex = (s.charCodeAt(j) | 0x20) === 0x78;
      if (isHex) j++;
      let v = 0;
      // Browsers take any number of leading zeros (`&#0000000000000000106;` is `j`): skip them
      // uncounted, then bound the significant digits (8 are enough for any code point).
      const zeros = j;
      while (j < n && s.charCodeAt(j) === 0x30) j++;
      const start = j;
      while (j < n && j - start < 16) {
        const c = s.charCodeAt(j);
        const d = c >= 0x30 && c <= 0x39 ? c - 0x30 : isHex && (c | 0x20) >= 0x61 && (c | 0x20) <= 0x66 ? (c | 0x20) - 0x61 + 10 : -1;
        if (d < 0) break;
        v = v * (isHex ? 16 : 10) + d;
        if (v > 0x10ffff) v = 0xfffd;
        j++;
      }
      if (j === zeros) continue;
      code = v === 0 ? 0xfffd : v;
    } else {
      const start = j;
      while (j < n && j - start < 12 && isAlnum(s.charCodeAt(j))) j++;
      const name = s.slice(start, j);
      const value = HTML_NAMED_ENTITIES[name] ?? HTML_NAMED_ENTITIES[name.toLowerCase()];
      if (value === undefined) continue;
      code = value;
    }
    if (s.charCodeAt(j) === 0x3b) j++;
    out += s.slice(last, i) + String.fromCodePoint(code);
    last = j;
    i = j - 1;
  }
  return last === 0 ? s : out + s.slice(last);
}
