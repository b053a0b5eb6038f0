/**
 * The shell detector passes a separator's command when the value's quotes make its line a syntax error in
 * every place an app may put the value (bare, inside '…', inside "…"; shell/quote-places.ts). That claim is
 * checked against the real /bin/sh (and bash): random values around `;pwned`, built from quotes, backslashes,
 * comments, newlines, substitutions and separators, are run in the three places with `pwned` a function
 * that prints a mark. Wherever the reading says the `;` cannot run, the mark must never be printed.
 */
import { strict as assert } from 'node:assert';
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { test } from 'node:test';
import fc from 'fast-check';
import { QuotePlaces } from '../src/attacks/shell/quote-places.js';
import { detectShell } from '../src/attacks/shell/detect-shell.js';

const PIECES = [' ', 'x', "'", '"', '\\', '#', ' #', '\n', '`', '$(', ')', '${', '}', "it's", ';', '&', '|', 'echo', "$'", '<<', '\\\'', '\\"',
  // Where `#` opens a comment and where it does not (an escaped blank, inside a word, a continued line), and a backslash at the end.
  '\\ #', 'x#', '=#', '\\\n#', '\\\\'];
const side = fc.array(fc.constantFrom(...PIECES), { maxLength: 8 }).map((a) => a.join(''));

/** The shells to run: Debian's /bin/sh (dash), and bash, which is /bin/sh on macOS. */
const SHELLS = ['/bin/sh', '/bin/bash'].filter((shell) => existsSync(shell));

/** Whether `pwned` ran with `value` placed as `template` places it (stdout holds the mark; errors are no run). */
function runs(shell: string, template: (v: string) => string, value: string): boolean {
  try {
    const out = execFileSync(shell, ['-c', `pwned() { echo PWNED; }\n${template(value)}`], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'], timeout: 10_000 });
    return out.includes('PWNED');
  } catch (error) {
    return String((error as { stdout?: unknown }).stdout ?? '').includes('PWNED');
  }
}

const PLACES: [string, (v: string) => string][] = [
  ['bare', (v) => `true ${v}`],
  ["'…'", (v) => `true '${v}'`],
  ['"…"', (v) => `true "${v}"`],
];

test('a separator read as unable to run never runs pwned under /bin/sh or bash, in any of the three places', () => {
  assert.ok(SHELLS.includes('/bin/sh'), 'a POSIX shell to check against');
  let cleared = 0;
  fc.assert(
    fc.property(side, side, (before, after) => {
      const value = `${before};pwned${after}`;
      const places = new QuotePlaces();
      places.reset(value);
      if (places.mayRunAt(before.length)) return;
      cleared++;
      for (const shell of SHELLS) for (const [name, place] of PLACES) assert.equal(runs(shell, place, value), false, `${shell}, ${name}: ${JSON.stringify(value)}`);
    }),
    { numRuns: 800 },
  );
  // Worth something only if the reading clears a good share of the values.
  assert.ok(cleared > 25, `cleared ${cleared}`);
});

test('attacks whose quotes balance in some place are still found; an apostrophe sentences later clears prose', () => {
  for (const attack of ["x; cat /etc/passwd #it's", "x'; cat /etc/passwd; echo '", 'x"; cat /etc/passwd; echo "it\'s', "x; cat /etc/passwd\nit's", "x; cat /etc/passwd `it's`"]) {
    assert.notEqual(detectShell(attack), null, JSON.stringify(attack));
  }
  for (const prose of ["Great seller; find 3 sizes in store. It's labelled fragile", 'x|I\'d', "Store was busy; head 2 blocks north to 98 Union Ave, Coeur d'Alene"]) {
    assert.equal(detectShell(prose), null, JSON.stringify(prose));
  }
});

test('a separator gets the same answer whatever was asked before it: in order, out of order, after a long value', () => {
  const reused = new QuotePlaces();
  // A value dense with quotes, longer than what the reading keeps between values, read first and between values.
  const long = "x'y ".repeat(40_000) + ';pwned';
  fc.assert(
    fc.property(side, side, fc.array(fc.nat(), { maxLength: 12 }), fc.boolean(), (before, after, picks, longFirst) => {
      const value = `${before};pwned${after}`;
      if (longFirst) {
        reused.reset(long);
        reused.mayRunAt(long.length - 6);
      }
      const positions = picks.map((k) => k % value.length);
      // Each position asked alone on a fresh reader: the reference.
      const alone = positions.map((p) => {
        const fresh = new QuotePlaces();
        fresh.reset(value);
        return fresh.mayRunAt(p);
      });
      reused.reset(value);
      assert.deepEqual(positions.map((p) => reused.mayRunAt(p)), alone, JSON.stringify({ value, positions }));
      const sorted = positions.map((p, k) => [p, alone[k]] as const).sort((a, b) => a[0] - b[0]);
      reused.reset(value);
      for (const [p, expected] of sorted) assert.equal(reused.mayRunAt(p), expected, JSON.stringify({ value, p }));
    }),
    { numRuns: 2000 },
  );
  // The long value itself: its separator sits after 40,000 closed quotes, so it may run.
  reused.reset(long);
  assert.equal(reused.mayRunAt(long.length - 6), true);
  // One quote more before it leaves a quote open in every place: no line parses.
  reused.reset(long.slice(0, -6) + "';pwned");
  assert.equal(reused.mayRunAt(long.length - 5), false);
});
