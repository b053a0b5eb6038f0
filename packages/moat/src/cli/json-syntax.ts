/**
 * Strict JSON syntax for `.json` rules documents. The rules parser reads JSON as YAML (for line numbers),
 * and YAML takes what JSON does not — trailing commas, comments, unquoted keys — so a `rules.json` other
 * tools cannot read would compile silently. Returns one `file:line: …` problem, or null when the text is JSON.
 */
export function jsonSyntaxProblem(text: string, fileName: string): string | null {
  try {
    JSON.parse(text);
    return null;
  } catch (e) {
    const comma = trailingCommaOffset(text);
    if (comma !== null) return `${fileName}:${lineAt(text, comma)}: invalid JSON: trailing comma before a closing bracket`;
    const message = (e as Error).message.split('\n')[0]!; // split returns at least one part
    const position = /at position (\d+)/.exec(message);
    // V8's wording differs by version; keep its first clause, without the quoted excerpt of the input.
    const what = message.replace(/\s*(in JSON )?at position \d+.*$/, '').replace(/, ".*$/, '');
    return `${fileName}:${position ? `${lineAt(text, Number(position[1]))}:` : ''} invalid JSON: ${what}`;
  }
}

/** Offset of the first `,` followed (after white space) by `]` or `}`, outside strings; null if none. */
function trailingCommaOffset(text: string): number | null {
  let inString = false;
  let lastComma = -1;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (inString) {
      if (c === '\\') i++;
      else if (c === '"') inString = false;
      continue;
    }
    if (c === '"') {
      inString = true;
      lastComma = -1;
    } else if (c === ',') lastComma = i;
    else if ((c === ']' || c === '}') && lastComma >= 0) return lastComma;
    else if (c !== ' ' && c !== '\t' && c !== '\n' && c !== '\r') lastComma = -1;
  }
  return null;
}

function lineAt(text: string, offset: number): number {
  let line = 1;
  for (let i = 0; i < offset && i < text.length; i++) if (text.charCodeAt(i) === 10) line++;
  return line;
}
