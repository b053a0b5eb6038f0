/**
 * Backslash escapes a JavaScript or JSON layer would resolve (`\u003c`, `\u{3c}`, `\x3c`), so
 * `\u003cscript` is seen as `<script`. Other backslashes are kept: in SQL and shell they are syntax.
 */
import { addWork } from '../work-counter.js';

function hex(c: number): number {
  if (c >= 0x30 && c <= 0x39) return c - 0x30;
  const l = c | 0x20;
  return l >= 0x61 && l <= 0x66 ? l - 0x61 + 10 : -1;
}

export function decodeBackslashEscapes(s: string): string {
  const n = s.length;
  addWork(n);
  let out = '';
  let last = 0;
  for (let i = s.indexOf('\\'); i >= 0 && i < n - 1; i = s.indexOf('\\', i + 1)) {
    const k = s.charCodeAt(i + 1) | 0x20;
    let code = -1;
    let end = i;
    if (k === 0x75 && s.charCodeAt(i + 2) === 0x7b) {
      let v = 0;
      let j = i + 3;
      while (j < n && j < i + 10 && hex(s.charCodeAt(j)) >= 0) v = v * 16 + hex(s.charCodeAt(j++));
      if (s.charCodeAt(j) === 0x7d && j > i + 3 && v <= 0x10ffff) {
        code = v;
        end = j + 1;
      }
    } else if (k === 0x75 || k === 0x78) {
      const digits = k === 0x75 ? 4 : 2;
      let v = 0;
      let j = i + 2;
      for (; j < i + 2 + digits && j < n; j++) {
        const d = hex(s.charCodeAt(j));
        if (d < 0) break;
        v = v * 16 + d;
      }
      if (j === i + 2 + digits) {
        code = v;
        end = j;
      }
    }
    if (code < 0) continue;
    out += s.slice(last, i) + String.fromCodePoint(code);
    last = end;
    i = end - 1;
  }
  return last === 0 ? s : out + s.slice(last);
}
