// The API reference is the contract: every name a published entry point of moat-waf exports must be
// listed in docs/api.md, and every name listed there must be exported. Adding or removing an export
// without changing the reference fails here.
//
// Entry points come from package.json "exports" (the `./adapters/*` wildcard publishes every file in
// src/adapters). Runtime names come from importing each entry; type-only names from the TypeScript
// checker over the same source files (it follows `export *` and re-exports exactly as tsc does).
// The reference marks one table per entry point:
//   <!-- exports: moat-waf/adapters/express -->
//   | export | kind | meaning |
//   | `moat` | function | … |
//   <!-- /exports -->
// `kind` is `type` or `interface` for type-only names, anything else (class, function, const) for
// runtime ones; the test checks that split as well. Options objects and status shapes are tables too,
// marked `<!-- fields: <specifier> <Interface> -->`: their first column must name every property.
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath, pathToFileURL } from 'node:url';
import ts from 'typescript';

const packageDir = join(dirname(fileURLToPath(import.meta.url)), '..');
const docPath = join(packageDir, '../../docs/api.md');
const TYPE_KINDS = new Set(['type', 'interface']);

interface EntryPoint {
  /** The specifier users import, e.g. `moat-waf/adapters/express`. */
  specifier: string;
  source: string;
}

interface ExportNames {
  runtime: Set<string>;
  types: Set<string>;
}

/** package.json "exports" → the source file behind each published specifier. */
function entryPoints(): EntryPoint[] {
  const pkg = JSON.parse(readFileSync(join(packageDir, 'package.json'), 'utf8')) as {
    name: string;
    exports: Record<string, { default: string }>;
  };
  const toSource = (target: string): string =>
    join(packageDir, target.replace(/^\.\/dist\//, 'src/').replace(/\.js$/, '.ts'));
  const entries: EntryPoint[] = [];
  for (const [key, value] of Object.entries(pkg.exports)) {
    const specifier = key === '.' ? pkg.name : `${pkg.name}/${key.slice(2)}`;
    if (!key.includes('*')) {
      entries.push({ specifier, source: toSource(value.default) });
      continue;
    }
    // A wildcard publishes every file that matches it, meant for users or not.
    const pattern = toSource(value.default);
    const dir = dirname(pattern);
    const suffix = basename(pattern).replace('*', '');
    for (const name of readdirSync(dir).sort()) {
      if (!name.endsWith(suffix) || name.endsWith('.d.ts')) continue;
      const stem = name.slice(0, -suffix.length);
      entries.push({ specifier: specifier.replace('*', stem), source: join(dir, name) });
    }
  }
  return entries;
}

interface SourceSurface {
  /** Names exported only as types. */
  types: Set<string>;
  /** Property names of each exported interface (options objects, status shapes), own and inherited. */
  fields: Map<string, string[]>;
}

/** What the checker sees each source file export. One program for all entries: building it is the slow part. */
function checkedExports(sources: string[]): Map<string, SourceSurface> {
  const configPath = join(packageDir, 'tsconfig.json');
  const config = ts.getParsedCommandLineOfConfigFile(configPath, {}, {
    ...ts.sys,
    onUnRecoverableConfigFileDiagnostic: (d) => { throw new Error(ts.flattenDiagnosticMessageText(d.messageText, '\n')); },
  });
  assert.ok(config, 'packages/moat/tsconfig.json could not be read');
  const program = ts.createProgram(sources, { ...config.options, noEmit: true });
  const checker = program.getTypeChecker();
  const result = new Map<string, SourceSurface>();
  for (const source of sources) {
    const file = program.getSourceFile(source);
    assert.ok(file, `${source} is not in the program`);
    const surface: SourceSurface = { types: new Set(), fields: new Map() };
    const moduleSymbol = checker.getSymbolAtLocation(file);
    for (const symbol of moduleSymbol ? checker.getExportsOfModule(moduleSymbol) : []) {
      const target = symbol.flags & ts.SymbolFlags.Alias ? checker.getAliasedSymbol(symbol) : symbol;
      // `export type { X }` of a class still exports no value: check the alias chain too.
      const typeOnlyAlias = symbol.declarations?.some((d) => ts.isTypeOnlyImportOrExportDeclaration(d)) ?? false;
      if (typeOnlyAlias || !(target.flags & ts.SymbolFlags.Value)) surface.types.add(symbol.name);
      if (target.flags & ts.SymbolFlags.Interface) {
        const properties = checker.getPropertiesOfType(checker.getDeclaredTypeOfSymbol(target));
        surface.fields.set(symbol.name, properties.map((p) => p.name));
      }
    }
    result.set(source, surface);
  }
  return result;
}

interface PackageSurface {
  exports: Map<string, ExportNames>;
  /** Specifier → interface name → property names. */
  fields: Map<string, Map<string, string[]>>;
}

let surface: Promise<PackageSurface> | undefined;

/** Imports every entry and asks the checker about it; built once for both tests. */
function packageSurface(): Promise<PackageSurface> {
  surface ??= (async () => {
    const entries = entryPoints();
    // A floor, so a broken enumeration cannot pass by comparing two empty sets.
    assert.ok(entries.some((e) => e.specifier === 'moat-waf'), 'the root entry is missing');
    assert.ok(entries.some((e) => e.specifier === 'moat-waf/adapters/express'), 'the adapter wildcard found no files');
    const checked = checkedExports(entries.map((e) => e.source));
    const exports = new Map<string, ExportNames>();
    const fields = new Map<string, Map<string, string[]>>();
    for (const entry of entries) {
      const module = (await import(pathToFileURL(entry.source).href)) as Record<string, unknown>;
      const seen = checked.get(entry.source)!;
      exports.set(entry.specifier, { runtime: new Set(Object.keys(module)), types: seen.types });
      fields.set(entry.specifier, seen.fields);
    }
    const root = exports.get('moat-waf')!;
    assert.ok(root.runtime.has('Firewall') && root.types.has('MoatOptions'), 'export listing is broken: Firewall/MoatOptions not found');
    return { exports, fields };
  })();
  return surface;
}

/** Backticked names in the first cell of each table row: `| \`name\` | …` or `| \`a\`, \`b\` | …`. */
function firstCellNames(line: string): string[] {
  const cell = /^\|([^|]*)\|/.exec(line)?.[1] ?? '';
  return [...cell.matchAll(/`([A-Za-z_$][\w$]*)`/g)].map((m) => m[1]!);
}

/** The marked export tables of docs/api.md, by specifier. */
function documentedNames(doc: string): Map<string, ExportNames> {
  const result = new Map<string, ExportNames>();
  const section = /<!-- exports: (\S+) -->\n([\s\S]*?)<!-- \/exports -->/g;
  for (const [, specifier, body] of doc.matchAll(section)) {
    assert.ok(!result.has(specifier!), `docs/api.md marks the exports of ${specifier} twice`);
    const names: ExportNames = { runtime: new Set(), types: new Set() };
    for (const line of body!.split('\n')) {
      const row = /^\|\s*`([A-Za-z_$][\w$]*)`\s*\|\s*([^|]+?)\s*\|/.exec(line);
      if (!row) continue;
      const [, name, kind] = row;
      (TYPE_KINDS.has(kind!) ? names.types : names.runtime).add(name!);
    }
    result.set(specifier!, names);
  }
  return result;
}

/** The marked field tables of docs/api.md: `specifier Interface` → names in their first column. */
function documentedFields(doc: string): Map<string, Set<string>> {
  const result = new Map<string, Set<string>>();
  const section = /<!-- fields: (\S+) (\S+) -->\n([\s\S]*?)<!-- \/fields -->/g;
  for (const [, specifier, name, body] of doc.matchAll(section)) {
    result.set(`${specifier} ${name}`, new Set(body!.split('\n').flatMap(firstCellNames)));
  }
  return result;
}

function difference(a: Iterable<string>, b: Set<string>): string[] {
  return [...a].filter((x) => !b.has(x)).sort();
}

test('every export of every published entry point of moat-waf is in docs/api.md, and nothing else is', { timeout: 180_000 }, async () => {
  const { exports: exported } = await packageSurface();
  const documented = documentedNames(readFileSync(docPath, 'utf8'));

  const problems: string[] = [];
  for (const specifier of difference(exported.keys(), new Set(documented.keys()))) {
    problems.push(`${specifier}: published but has no <!-- exports: ${specifier} --> table`);
  }
  for (const specifier of difference(documented.keys(), new Set(exported.keys()))) {
    problems.push(`${specifier}: documented but not a published entry point`);
  }
  for (const [specifier, actual] of exported) {
    const doc = documented.get(specifier);
    if (!doc) continue;
    const all = (n: ExportNames): Set<string> => new Set([...n.runtime, ...n.types]);
    const undocumented = difference(all(actual), all(doc));
    const missing = difference(all(doc), all(actual));
    if (undocumented.length > 0) problems.push(`${specifier}: exported but undocumented: ${undocumented.join(', ')}`);
    if (missing.length > 0) problems.push(`${specifier}: documented but not exported: ${missing.join(', ')}`);
    const typesAsValues = difference(actual.types, doc.types).filter((n) => doc.runtime.has(n));
    const valuesAsTypes = difference(actual.runtime, doc.runtime).filter((n) => doc.types.has(n));
    if (typesAsValues.length > 0) problems.push(`${specifier}: type-only but documented as a value: ${typesAsValues.join(', ')}`);
    if (valuesAsTypes.length > 0) problems.push(`${specifier}: runtime values documented as types: ${valuesAsTypes.join(', ')}`);
  }
  assert.deepEqual(problems, [], `docs/api.md and the exports of moat-waf disagree:\n  ${problems.join('\n  ')}`);
});

test('every option and status field of the documented interfaces is in its docs/api.md table, and nothing else is', { timeout: 180_000 }, async () => {
  const { fields } = await packageSurface();
  const documented = documentedFields(readFileSync(docPath, 'utf8'));
  // The options objects and status shapes users write or read: each must have its table.
  for (const required of ['moat-waf MoatOptions', 'moat-waf ManagedSyncOptions', 'moat-waf UpsyncOptions', 'moat-waf FirewallStats',
    'moat-waf UpsyncStatus', 'moat-waf ManagedStatus', 'moat-waf/ratelimit/redis RedisRateLimitStoreOptions']) {
    assert.ok(documented.has(required), `docs/api.md has no <!-- fields: ${required} --> table`);
  }
  const problems: string[] = [];
  for (const [key, names] of documented) {
    const [specifier, name] = key.split(' ') as [string, string];
    const actual = fields.get(specifier)?.get(name);
    if (actual === undefined) {
      problems.push(`${key}: not an interface exported by ${specifier}`);
      continue;
    }
    const undocumented = difference(actual, names);
    const missing = difference(names, new Set(actual));
    if (undocumented.length > 0) problems.push(`${key}: fields not in its table: ${undocumented.join(', ')}`);
    if (missing.length > 0) problems.push(`${key}: documented fields it does not have: ${missing.join(', ')}`);
  }
  assert.deepEqual(problems, [], `docs/api.md and the interfaces of moat-waf disagree:\n  ${problems.join('\n  ')}`);
});

test('the tables of the reference are read by name, kind and first column', () => {
  const doc = [
    '<!-- exports: moat-waf/x -->', '| export | kind | meaning |', '|---|---|---|', '| `Real` | class | a `b` |',
    '| `Gone` | type | b |', '<!-- /exports -->',
    '<!-- fields: moat-waf/x Shape -->', '| field | meaning |', '|---|---|', '| `a`, `b` | the `c` |', '<!-- /fields -->', '',
  ].join('\n');
  const documented = documentedNames(doc).get('moat-waf/x')!;
  assert.deepEqual([...documented.runtime], ['Real']);
  assert.deepEqual([...documented.types], ['Gone']);
  assert.deepEqual([...documentedFields(doc).get('moat-waf/x Shape')!], ['a', 'b']);
});
