/**
 * What a command writes must not be what it reads: files are written beside their destination and
 * renamed into place, so `compile rules.yaml -o rules.yaml` would replace the document with the compiled
 * file, and the user's only copy of the rules would be gone. Compared by device and inode, so another
 * spelling of the same file (`./rules.yaml`, a symbolic link to it) is caught too.
 */
import { statSync } from 'node:fs';
import { UserError } from './user-error.js';

/** The file at `path` as device and inode, or null when nothing is there (or it cannot be read: the command says so later). */
function identity(path: string): string | null {
  try {
    const s = statSync(path);
    return `${s.dev}:${s.ino}`;
  } catch {
    return null;
  }
}

/**
 * Refuses (MOAT_ERR_USAGE) when an output names an input or another output. `outputs` and `inputs` are
 * `[what the command line calls it, path]`; inputs that are not files (a package name) are never matched.
 */
export function refuseOutputsOverInputs(outputs: readonly (readonly [string, string])[], inputs: readonly (readonly [string, string])[]): void {
  const seen: { name: string; path: string; id: string }[] = [];
  for (const [name, path] of inputs) {
    const id = identity(path);
    if (id !== null) seen.push({ name, path, id });
  }
  for (const [name, path] of outputs) {
    const id = identity(path);
    const same = id === null ? undefined : seen.find((s) => s.id === id);
    if (same !== undefined) {
      throw new UserError(`${name} ${path} is ${same.name} ${same.path}: writing it would replace that file; choose another output file`, 'MOAT_ERR_USAGE');
    }
    if (id !== null) seen.push({ name, path, id });
  }
}
