// What the demo keeps in its folder between starts, beside the hub's own data: the demo site and its
// API key (the hub stores only the key's hash, so the demo shop could not be started again without it)
// and the admin password the first start chose. Both files are 0600.

import { randomBytes } from 'node:crypto';
import { existsSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

export const STATE_FILE = 'demo.json';
export const PASSWORD_FILE = 'admin-password';

export interface DemoState {
  hub: string;
  app: string;
  siteId: number;
  apiKey: string;
  adminEmail: string;
}

export function readDemoState(root: string): Partial<DemoState> {
  try {
    const parsed = JSON.parse(readFileSync(join(root, STATE_FILE), 'utf8')) as Record<string, unknown>;
    return {
      hub: typeof parsed.hub === 'string' ? parsed.hub : undefined,
      app: typeof parsed.app === 'string' ? parsed.app : undefined,
      siteId: Number.isInteger(parsed.siteId) ? parsed.siteId as number : undefined,
      apiKey: typeof parsed.apiKey === 'string' ? parsed.apiKey : undefined,
      adminEmail: typeof parsed.adminEmail === 'string' ? parsed.adminEmail : undefined,
    };
  } catch {
    return {}; // missing or damaged: the start creates a new key for the demo site
  }
}

/** Written to a temporary name and renamed, so a reader (or a crash) never sees half a file. */
export function writeDemoState(root: string, state: DemoState): void {
  const file = join(root, STATE_FILE);
  writeFileSync(`${file}.tmp`, `${JSON.stringify(state, null, 2)}\n`, { mode: 0o600 });
  renameSync(`${file}.tmp`, file);
}

export interface AdminPassword {
  /** Undefined on a restart without the file: the hub keeps the password it has. */
  password: string | undefined;
  /** Where it is kept, when the demo chose it. */
  file: string | undefined;
  /** This start chose it: print it. */
  isNew: boolean;
}

/**
 * The admin password for this start. On a first start (no hub data yet) it is the configured one or a
 * new random one, which is written to a 0600 file before the hub creates the admin, so a start that
 * fails half-way never leaves an admin whose password nobody knows. Later starts reuse the file.
 */
export function adminPasswordFor(root: string, firstStart: boolean, configured: string | undefined): AdminPassword {
  const file = join(root, PASSWORD_FILE);
  if (!firstStart) {
    return existsSync(file) ? { password: readFileSync(file, 'utf8').trim(), file, isNew: false } : { password: undefined, file: undefined, isNew: false };
  }
  if (configured !== undefined) {
    rmSync(file, { force: true }); // a file left from an earlier demo would name the wrong password
    return { password: configured, file: undefined, isNew: false };
  }
  const password = randomBytes(12).toString('base64url');
  writeFileSync(file, `${password}\n`, { mode: 0o600 });
  return { password, file, isNew: true };
}

/** Empties the demo folder for `--fresh`, keeping only the named entries (the lock this start holds). */
export function resetDemoDir(root: string, keep: readonly string[]): void {
  for (const name of readdirSync(root)) {
    if (!keep.includes(name)) rmSync(join(root, name), { recursive: true, force: true });
  }
}
