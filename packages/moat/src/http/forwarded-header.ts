// RFC 7239 `Forwarded: for=192.0.2.60;proto=http, for="[2001:db8::17]:4711"`. Only the `for` value of
// each element matters here. Quoted strings may hold commas and semicolons, so this is a small scanner
// rather than a split.

/**
 * The `for` value of each element, in order, unquoted; an element without `for` gives ''. Values are
 * as written (`unknown`, `_hidden`, `[v6]:port`); the chain walk decides what is an address.
 */
export function forwardedForValues(header: string): string[] {
  const values: string[] = [];
  let current = '';
  let i = 0;
  const length = header.length;
  while (i < length) {
    // One pair: token '=' (token | quoted-string)
    while (i < length && (header[i] === ' ' || header[i] === '\t' || header[i] === ';')) i++;
    if (i >= length) break;
    if (header[i] === ',') {
      values.push(current);
      current = '';
      i++;
      continue;
    }
    const nameStart = i;
    while (i < length && header[i] !== '=' && header[i] !== ';' && header[i] !== ',') i++;
    const name = header.slice(nameStart, i).trim().toLowerCase();
    let value = '';
    if (header[i] === '=') {
      i++;
      while (i < length && (header[i] === ' ' || header[i] === '\t')) i++;
      if (header[i] === '"') {
        i++;
        let text = '';
        while (i < length && header[i] !== '"') {
          if (header[i] === '\\' && i + 1 < length) i++;
          text += header[i];
          i++;
        }
        i++; // closing quote (or past the end when it is missing)
        value = text;
      } else {
        const valueStart = i;
        while (i < length && header[i] !== ';' && header[i] !== ',') i++;
        value = header.slice(valueStart, i).trim();
      }
    }
    if (name === 'for') current = value;
  }
  values.push(current);
  return values;
}
