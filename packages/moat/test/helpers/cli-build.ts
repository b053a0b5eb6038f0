// Transpiles the client's current sources (not a possibly stale dist/) into a temporary directory once per
// test file, so CLI tests can spawn plain `node` on them: a real process at a third of tsx's start-up cost.
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import ts from 'typescript';

export const ROOT = path.resolve(import.meta.dirname, '../../../..');

/** Returns the path of the transpiled cli/main.js inside `dir`'s copy (dir holds a node_modules link). */
export function transpileClient(dir = fs.mkdtempSync(path.join(os.tmpdir(), 'moat-cli-'))): { dir: string; main: string } {
  const src = path.join(ROOT, 'packages/moat/src');
  const out = path.join(dir, 'src');
  const walk = (d: string) => {
    for (const name of fs.readdirSync(d)) {
      const p = path.join(d, name);
      if (fs.statSync(p).isDirectory()) walk(p);
      else if (name.endsWith('.ts') && !name.endsWith('.d.ts')) {
        const js = ts.transpileModule(fs.readFileSync(p, 'utf8'), {
          compilerOptions: { module: ts.ModuleKind.ESNext, target: ts.ScriptTarget.ES2022, verbatimModuleSyntax: true },
          fileName: p,
        }).outputText;
        const target = path.join(out, path.relative(src, p)).replace(/\.ts$/, '.js');
        fs.mkdirSync(path.dirname(target), { recursive: true });
        fs.writeFileSync(target, js);
      }
    }
  };
  walk(src);
  // Files the sources read at run time relative to themselves (the shipped bot catalogue) sit beside src/.
  fs.symlinkSync(path.join(ROOT, 'packages/moat/data'), path.join(dir, 'data'));
  fs.writeFileSync(path.join(dir, 'package.json'), '{"type":"module"}\n');
  fs.symlinkSync(path.join(ROOT, 'node_modules'), path.join(dir, 'node_modules'));
  return { dir, main: path.join(out, 'cli/main.js') };
}

/** What a finished process printed, and its exit code (null: killed by a signal). */
export interface ProcessRun {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs `cmd` to its end in `cwd` (default the repository root), `input` on its stdin (closed at once when absent). */
export function runProcess(cmd: string, args: readonly string[], opts: { cwd?: string; env?: NodeJS.ProcessEnv; input?: string } = {}): Promise<ProcessRun> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { cwd: opts.cwd ?? ROOT, stdio: ['pipe', 'pipe', 'pipe'], env: opts.env ?? process.env });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (b) => (stdout += b));
    child.stderr.on('data', (b) => (stderr += b));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr }));
    child.stdin.on('error', () => undefined); // a process that exits without reading its stdin
    child.stdin.end(opts.input ?? '');
  });
}
