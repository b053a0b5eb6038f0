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

/** After a backslash in a JavaScript string: what stands for another character, or (`u`, `x`) did not decode. */
const IDENTITY_KEPT = 'bfnrtvux\n\r\u2028\u2029';

/**
 * `js`: also the escapes only a JavaScript string literal resolves, for a reader of code such as a
 * template's expression: legacy octal (`\160` is `p`) and identity escapes (`\o` is `o`). Elsewhere
 * they are kept: `C:\temp\101` is a Windows path, `\1` a regex back-reference.
 */
export function decodeBackslashEscapes(s: string, js = false): string {
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
    if (js && code < 0) {
      const c = s.charCodeAt(i + 1);
      if (c >= 0x30 && c <= 0x37) {
        // Up to three octal digits, at most 0o377 (a first digit above 3 takes one more digit only).
        let v = c - 0x30;
        let j = i + 2;
        const max = c <= 0x33 ? i + 4 : i + 3;
        for (let d = s.charCodeAt(j) - 0x30; j < max && d >= 0 && d <= 7; d = s.charCodeAt(j) - 0x30) {
          v = v * 8 + d;
          j++;
        }
        code = v;
        end = j;
      } else if (!IDENTITY_KEPT.includes(s[i + 1]!)) {
        code = c;
        end = i + 2;
      }
    }
    if (code < 0) continue;
    out += s.slice(last, i) + String.fromCodePoint(code);
    last = end;
    i = end - 1;
  }
  return last === 0 ? s : out + s.slice(last);
}
