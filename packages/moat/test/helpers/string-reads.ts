/**
 * Counts the characters JavaScript code reads from strings while a function runs, independently of the
 * detectors' own work counter (which only counts what the detectors remember to add): every
 * `charCodeAt`/`codePointAt` is one read, a native search (`indexOf`, `includes`, `lastIndexOf`) counts
 * the characters it passed, a copy (`slice`, `substring`, case mapping) its length, and a regular
 * expression the stretch of input it covered. A loop that rereads the rest of a value at every
 * separator shows as reads growing with the square of the input, whichever counter it forgot.
 * Loops over typed arrays are not seen; the byte scan's are bounded by its own tests.
 */

type StringMethod = (this: string, ...args: never[]) => unknown;

let reads = 0;

function counted<M extends StringMethod>(original: M, cost: (text: string, args: unknown[], result: unknown) => number): M {
  return function (this: string, ...args: unknown[]) {
    const result = (original as unknown as (...a: unknown[]) => unknown).apply(this, args);
    reads += cost(String(this), args, result);
    return result;
  } as unknown as M;
}

const fromIndex = (text: string, at: unknown) => Math.min(text.length, Math.max(0, Number(at ?? 0) || 0));

/** Characters read from strings while `run` ran (synchronous code only). */
export function stringReads(run: () => void): number {
  const proto = String.prototype;
  const saved = {
    charCodeAt: proto.charCodeAt, codePointAt: proto.codePointAt, indexOf: proto.indexOf, includes: proto.includes,
    lastIndexOf: proto.lastIndexOf, slice: proto.slice, substring: proto.substring, toLowerCase: proto.toLowerCase,
    toUpperCase: proto.toUpperCase, exec: RegExp.prototype.exec,
  };
  const searched = (text: string, args: unknown[], result: unknown) =>
    (typeof result === 'number' ? (result < 0 ? text.length : result + 1) : text.length) - fromIndex(text, args[1]);
  const copied = (_text: string, _args: unknown[], result: unknown) => (result as string).length;
  reads = 0;
  try {
    proto.charCodeAt = counted(saved.charCodeAt, () => 1);
    proto.codePointAt = counted(saved.codePointAt, () => 1);
    proto.indexOf = counted(saved.indexOf, searched);
    proto.includes = counted(saved.includes, (text, args) => text.length - fromIndex(text, args[1]));
    proto.lastIndexOf = counted(saved.lastIndexOf, (text) => text.length);
    proto.slice = counted(saved.slice, copied);
    proto.substring = counted(saved.substring, copied);
    proto.toLowerCase = counted(saved.toLowerCase, copied);
    proto.toUpperCase = counted(saved.toUpperCase, copied);
    // test(), match(), replace() and split() with a pattern all call exec().
    RegExp.prototype.exec = function (this: RegExp, input: string) {
      const text = String(input);
      const from = this.global || this.sticky ? this.lastIndex : 0;
      const match = saved.exec.call(this, text);
      reads += match === null ? (this.sticky ? 1 : text.length - from) : match.index + match[0].length - from;
      return match;
    };
    run();
  } finally {
    Object.assign(proto, {
      charCodeAt: saved.charCodeAt, codePointAt: saved.codePointAt, indexOf: saved.indexOf, includes: saved.includes,
      lastIndexOf: saved.lastIndexOf, slice: saved.slice, substring: saved.substring, toLowerCase: saved.toLowerCase,
      toUpperCase: saved.toUpperCase,
    });
    RegExp.prototype.exec = saved.exec;
  }
  return reads;
}
