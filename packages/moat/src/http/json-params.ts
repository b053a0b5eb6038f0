// JSON bodies (opt-in) as the same `key=value&...` text as form parameters: nested keys joined with
// `.`, values as text. Flattening parsed JSON defeats escape tricks (`\u003cscript`) that a substring
// match over the raw text would miss.

/** Bounds, so a deeply nested or huge document costs a bounded amount of work and no deep recursion. */
const MAX_KEY_DEPTH = 32;
const MAX_ENTRIES = 10_000;

/** Flattens a JSON document; invalid JSON comes back as its raw text, so it is still inspected. */
export function jsonToParams(text: string): string {
  let root: unknown;
  try {
    root = JSON.parse(text);
  } catch {
    return text;
  }
  const out: string[] = [];
  // Explicit stack (children pushed in reverse to keep document order): depth is attacker-chosen.
  const stack: { value: unknown; key: string; depth: number }[] = [{ value: root, key: '', depth: 0 }];
  while (stack.length > 0 && out.length < MAX_ENTRIES) {
    const { value, key, depth } = stack.pop()!;
    if (value === null || typeof value !== 'object') {
      out.push(`${key}=${value === null ? 'null' : String(value)}`);
      continue;
    }
    const entries = Array.isArray(value) ? [...value.entries()] : Object.entries(value as Record<string, unknown>);
    for (let i = entries.length - 1; i >= 0; i--) {
      const [k, v] = entries[i];
      // Past the depth limit, values keep the last key rather than growing it without bound.
      const childKey = depth >= MAX_KEY_DEPTH ? key : key === '' ? String(k) : `${key}.${String(k)}`;
      stack.push({ value: v, key: childKey, depth: depth + 1 });
    }
  }
  return out.join('&');
}
