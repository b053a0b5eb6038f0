/**
 * Limits on the shape of a JSON text, checked on the raw bytes before JSON.parse runs.
 *
 * Why: JSON.parse has no limits of its own and its cost is not linear in bytes alone. Measured on the
 * hub's 2-core box: 8 MB of `[[[[…` took ~7 s, an object with 600 000 keys ~2.3 s, an array of 4 M zeros
 * ~0.9 s — each a single blocking call. Counting brackets and commas is one cheap pass (≈10 ms per MB in
 * the worst case) and rejects those shapes before any object is built.
 */
export interface JsonShapeLimits {
  /** Deepest nesting of arrays and objects; the top-level value is depth 1. */
  maxDepth: number;
  /** Most members of one object (keys are what make huge objects slow). */
  maxObjectKeys: number;
  /** Most elements of one array. */
  maxArrayItems: number;
  /** Most values in the whole text, about: containers plus separators, at all depths. */
  maxValues: number;
}

export type JsonShapeProblem =
  | { kind: 'too_deep'; limit: number }
  | { kind: 'too_many_keys'; limit: number }
  | { kind: 'too_many_items'; limit: number }
  | { kind: 'too_many_values'; limit: number };

const QUOTE = 0x22;
const BACKSLASH = 0x5c;
const COMMA = 0x2c;
const OPEN_ARRAY = 0x5b;
const CLOSE_ARRAY = 0x5d;
const OPEN_OBJECT = 0x7b;
const CLOSE_OBJECT = 0x7d;

/**
 * Checks the structure of a JSON text fed in pieces (so a big body can be checked a slice at a time
 * between event-loop turns). Only structure outside strings counts; the text need not be valid JSON
 * (JSON.parse still judges that). Multi-byte UTF-8 never contains these ASCII bytes, so bytes are scanned
 * as they are.
 */
export class JsonShapeScanner {
  // Per open container: its separators so far, and whether it is an object.
  private readonly commas: Uint32Array;
  private readonly isObject: Uint8Array;
  private depth = 0;
  private values = 0;
  private inString = false;
  /** A backslash ended the last piece inside a string: the next byte is escaped. */
  private escapePending = false;

  constructor(private readonly limits: JsonShapeLimits) {
    this.commas = new Uint32Array(limits.maxDepth + 1);
    this.isObject = new Uint8Array(limits.maxDepth + 1);
  }

  /** The first limit the text so far breaks, or null. */
  feed(bytes: Uint8Array): JsonShapeProblem | null {
    const { maxDepth, maxObjectKeys, maxArrayItems, maxValues } = this.limits;
    const { commas, isObject } = this;
    let { depth, values, inString } = this;
    let i = 0;
    if (this.escapePending) {
      i = 1;
      this.escapePending = false;
    }
    let problem: JsonShapeProblem | null = null;
    scan: for (; i < bytes.length; i++) {
      const c = bytes[i]!;
      if (inString) {
        if (c === BACKSLASH) {
          if (i + 1 === bytes.length) this.escapePending = true;
          i++;
        } else if (c === QUOTE) {
          inString = false;
        }
        continue;
      }
      switch (c) {
        case QUOTE:
          inString = true;
          break;
        case OPEN_ARRAY:
        case OPEN_OBJECT:
          if (++depth > maxDepth) { problem = { kind: 'too_deep', limit: maxDepth }; break scan; }
          commas[depth] = 0;
          isObject[depth] = c === OPEN_OBJECT ? 1 : 0;
          if (++values > maxValues) { problem = { kind: 'too_many_values', limit: maxValues }; break scan; }
          break;
        case CLOSE_ARRAY:
        case CLOSE_OBJECT:
          if (depth > 0) depth--;
          break;
        case COMMA:
          if (depth === 0) break;
          // n commas separate n + 1 members.
          if (++values > maxValues) { problem = { kind: 'too_many_values', limit: maxValues }; break scan; }
          if (isObject[depth] === 1) {
            if (++commas[depth]! >= maxObjectKeys) { problem = { kind: 'too_many_keys', limit: maxObjectKeys }; break scan; }
          } else if (++commas[depth]! >= maxArrayItems) {
            problem = { kind: 'too_many_items', limit: maxArrayItems };
            break scan;
          }
          break;
        default:
          break;
      }
    }
    this.depth = depth;
    this.values = values;
    this.inString = inString;
    return problem;
  }
}

/** The first limit a whole text breaks, or null. */
export function jsonShapeProblem(bytes: Uint8Array, limits: JsonShapeLimits): JsonShapeProblem | null {
  return new JsonShapeScanner(limits).feed(bytes);
}

/** The error code and message for a problem, as the hub answers them (400). */
export function describeShapeProblem(problem: JsonShapeProblem): { code: string; message: string } {
  switch (problem.kind) {
    case 'too_deep':
      return { code: 'json_too_deep', message: `the JSON body nests deeper than ${problem.limit} levels` };
    case 'too_many_keys':
      return { code: 'json_too_complex', message: `a JSON object in the body has more than ${problem.limit} keys` };
    case 'too_many_items':
      return { code: 'json_too_complex', message: `a JSON array in the body has more than ${problem.limit} items` };
    case 'too_many_values':
      return { code: 'json_too_complex', message: `the JSON body holds more than ${problem.limit} values` };
  }
}
