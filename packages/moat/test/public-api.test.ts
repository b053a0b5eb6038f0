// The API reference is the contract: every name a published entry point of moat-waf exports must be
// listed in docs/api.md, and every name listed there must be exported. Adding or removing an export
// without changing the reference fails here.
//
// Entry points come from package.json "exports" (a wildcard, were one added, publishes every file it
// matches). Runtime names come from importing each entry; type-only names from the TypeScript checker
// over the same source files (it follows `export *` and re-exports exactly as tsc does). A third test
// walks tsc's declaration output from every export: a type a public signature names must be exported too.
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
import { basename, dirname, join, relative } from 'node:path';
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

function compilerOptions(): ts.CompilerOptions {
  const configPath = join(packageDir, 'tsconfig.json');
  const config = ts.getParsedCommandLineOfConfigFile(configPath, {}, {
    ...ts.sys,
    onUnRecoverableConfigFileDiagnostic: (d) => { throw new Error(ts.flattenDiagnosticMessageText(d.messageText, '\n')); },
  });
  assert.ok(config, 'packages/moat/tsconfig.json could not be read');
  return config.options;
}

/** What the checker sees each source file export. One program for all entries: building it is the slow part. */
function checkedExports(program: ts.Program, sources: string[]): Map<string, SourceSurface> {
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

/**
 * Members of public types that are the engine's compiled form, not an API: users hand these objects over
 * (a RuleSet to an Engine, CompiledData to writeWafrisDataFile) and read the other members only. The
 * reference says so; the signature walk below does not follow them. A new internal member must be listed
 * here (or its type exported), so nothing becomes reachable unnoticed.
 */
const INTERNAL_MEMBERS = new Map<string, readonly string[]>([
  ['RuleSet', ['singleIp', 'allowIps', 'blockIps', 'countries', 'asns', 'lists', 'userAgents', 'paths', 'params', 'hosts',
    'methods', 'rateLimitsExact', 'rateLimitsPrefix', 'attacks', 'bots']],
  ['Engine', ['bots']],
  ['CompiledData', ['table']],
]);

/** Where the in-memory declaration files live: a directory that does not exist, so nothing stale on disk is read. */
const DTS_DIR = join(packageDir, '.public-api-dts');

/**
 * Named declarations that public signatures use but no entry exports: users can neither import nor name
 * them. tsc's own declaration output is emitted in memory (so inferred types appear as tsc writes them,
 * e.g. `import("./x.js").Y`), then walked from every export of every entry: parameter and return types,
 * fields, base classes and `typeof` queries, except private members. Each top-level declaration of this
 * package reached that way must be exported by some entry.
 */
function unexportedNamedTypes(program: ts.Program, entries: EntryPoint[]): string[] {
  const emitted = new Map<string, string>();
  const emit = program.emit(undefined, (fileName, text) => {
    if (fileName.endsWith('.d.ts')) emitted.set(fileName, text);
  }, undefined, true);
  assert.deepEqual(emit.diagnostics.map((d) => ts.flattenDiagnosticMessageText(d.messageText, '\n')), [], 'declaration emit failed');
  const dtsOf = (source: string): string => join(DTS_DIR, relative(join(packageDir, 'src'), source)).replace(/\.ts$/, '.d.ts');
  const options: ts.CompilerOptions = { ...compilerOptions(), noEmit: true, composite: false, declaration: false, incremental: false };
  const host = ts.createCompilerHost(options);
  const { fileExists, readFile, getSourceFile } = host;
  host.fileExists = (f) => emitted.has(f) || (!f.startsWith(DTS_DIR) && fileExists.call(host, f));
  host.readFile = (f) => emitted.get(f) ?? (f.startsWith(DTS_DIR) ? undefined : readFile.call(host, f));
  host.directoryExists = (d) => d.startsWith(DTS_DIR) ? [...emitted.keys()].some((f) => f.startsWith(`${d}/`)) : ts.sys.directoryExists(d);
  host.getSourceFile = (f, language, ...rest) => {
    const text = emitted.get(f);
    return text === undefined ? getSourceFile.call(host, f, language, ...rest) : ts.createSourceFile(f, text, language, true);
  };
  const dts = ts.createProgram(entries.map((e) => dtsOf(e.source)), options, host);
  const checker = dts.getTypeChecker();
  const resolve = (s: ts.Symbol): ts.Symbol => (s.flags & ts.SymbolFlags.Alias ? checker.getAliasedSymbol(s) : s);
  const ours = (node: ts.Node): boolean => emitted.has(node.getSourceFile().fileName);
  const topLevel = (d: ts.Declaration): boolean => ours(d) && (ts.isSourceFile(d.parent)
    || (ts.isVariableDeclaration(d) && ts.isVariableStatement(d.parent.parent) && ts.isSourceFile(d.parent.parent.parent)));
  const where = (d: ts.Node): string => `src/${relative(DTS_DIR, d.getSourceFile().fileName).replace(/\.d\.ts$/, '.ts')}`;

  const exported = new Set<ts.Symbol>();
  const seen = new Set<ts.Symbol>();
  const queue: { symbol: ts.Symbol; path: string }[] = [];
  for (const entry of entries) {
    const file = dts.getSourceFile(dtsOf(entry.source));
    assert.ok(file, `no declarations emitted for ${entry.source}`);
    const moduleSymbol = checker.getSymbolAtLocation(file);
    for (const symbol of moduleSymbol ? checker.getExportsOfModule(moduleSymbol) : []) {
      // A floor: were the emitted files not resolved, every alias would point at nothing and the walk find nothing.
      assert.ok(resolve(symbol).declarations?.some(ours), `${entry.specifier} ${symbol.name}: its declaration was not found in the emitted files`);
      exported.add(resolve(symbol));
    }
    for (const symbol of moduleSymbol ? checker.getExportsOfModule(moduleSymbol) : []) {
      const target = resolve(symbol);
      if (seen.has(target)) continue;
      seen.add(target);
      queue.push({ symbol: target, path: `${entry.specifier} ${symbol.name}` });
    }
  }
  const problems: string[] = [];
  const visit = (node: ts.Node, path: string): void => {
    if (ts.canHaveModifiers(node) && ts.getModifiers(node)?.some((m) => m.kind === ts.SyntaxKind.PrivateKeyword)) return;
    if ((ts.isPropertySignature(node) || ts.isPropertyDeclaration(node) || ts.isMethodDeclaration(node) || ts.isGetAccessorDeclaration(node))
      && (ts.isInterfaceDeclaration(node.parent) || ts.isClassDeclaration(node.parent)) && node.parent.name
      && INTERNAL_MEMBERS.get(node.parent.name.text)?.includes(node.name.getText())) return;
    let symbol: ts.Symbol | undefined;
    if (ts.isTypeReferenceNode(node)) symbol = checker.getSymbolAtLocation(node.typeName);
    else if (ts.isExpressionWithTypeArguments(node)) symbol = checker.getSymbolAtLocation(node.expression);
    else if (ts.isTypeQueryNode(node)) symbol = checker.getSymbolAtLocation(node.exprName);
    else if (ts.isImportTypeNode(node)) {
      const type = checker.getTypeFromTypeNode(node);
      symbol = type.aliasSymbol ?? type.getSymbol();
    }
    if (symbol !== undefined) {
      const target = resolve(symbol);
      const declaration = target.declarations?.find(topLevel);
      if (declaration !== undefined && !seen.has(target)) {
        seen.add(target);
        // Only types must be nameable: a `typeof` of an unexported constant is still followed, not reported.
        const isType = (target.flags & (ts.SymbolFlags.Interface | ts.SymbolFlags.TypeAlias | ts.SymbolFlags.Class | ts.SymbolFlags.Enum)) !== 0;
        if (isType && !exported.has(target)) problems.push(`${target.name} (${where(declaration)}), used by ${path}`);
        queue.push({ symbol: target, path: `${path} → ${target.name}` });
      }
    }
    ts.forEachChild(node, (child) => visit(child, path));
  };
  for (let item = queue.pop(); item !== undefined; item = queue.pop()) {
    for (const declaration of item.symbol.declarations ?? []) if (ours(declaration)) visit(declaration, item.path);
  }
  return problems.sort();
}

interface PackageSurface {
  exports: Map<string, ExportNames>;
  /** Specifier → interface name → property names. */
  fields: Map<string, Map<string, string[]>>;
  /** Named types public signatures use but no entry exports. */
  unexported: string[];
}

let surface: Promise<PackageSurface> | undefined;

/** Imports every entry and asks the checker about it; built once for both tests. */
function packageSurface(): Promise<PackageSurface> {
  surface ??= (async () => {
    const entries = entryPoints();
    // A floor, so a broken enumeration cannot pass by comparing two empty sets.
    assert.ok(entries.some((e) => e.specifier === 'moat-waf'), 'the root entry is missing');
    assert.ok(entries.some((e) => e.specifier === 'moat-waf/adapters/express'), 'the Express adapter is not published');
    const sources = entries.map((e) => e.source);
    const program = ts.createProgram(sources, {
      ...compilerOptions(), noEmit: false, declaration: true, emitDeclarationOnly: true, declarationDir: DTS_DIR, outDir: DTS_DIR,
      composite: false, incremental: false, sourceMap: false, declarationMap: false,
    });
    const checked = checkedExports(program, sources);
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
    return { exports, fields, unexported: unexportedNamedTypes(program, entries) };
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

test('every export of every published entry point of moat-waf is in docs/api.md, and nothing else is', { timeout: 600_000 }, async () => {
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

test('every option and status field of the documented interfaces is in its docs/api.md table, and nothing else is', { timeout: 600_000 }, async () => {
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

test('every type a public signature names is exported by some entry point, so users can name it too', { timeout: 600_000 }, async () => {
  const { unexported } = await packageSurface();
  assert.deepEqual(unexported, [], `public signatures use types no entry of moat-waf exports:\n  ${unexported.join('\n  ')}`);
});

test('package.json publishes each adapter by name, with no wildcard, and none of the adapters\' internal helpers', () => {
  const pkg = JSON.parse(readFileSync(join(packageDir, 'package.json'), 'utf8')) as { exports: Record<string, unknown> };
  assert.deepEqual(Object.keys(pkg.exports).filter((k) => k.includes('*')), [], 'a wildcard would publish every file it matches');
  const internal = new Set(['firewall-from', 'send-node-response', 'node-request-context', 'fetch-request', 'upgrades']);
  const published = new Set(entryPoints().map((e) => e.specifier));
  for (const file of readdirSync(join(packageDir, 'src/adapters')).filter((f) => f.endsWith('.ts'))) {
    const specifier = `moat-waf/adapters/${file.slice(0, -3)}`;
    if (internal.has(file.slice(0, -3))) assert.ok(!published.has(specifier), `${specifier} is internal but published`);
    else assert.ok(published.has(specifier), `${specifier} is an adapter but not in package.json "exports" (or list it as internal here)`);
  }
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
