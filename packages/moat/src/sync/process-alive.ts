// Is the process that wrote a lock still the same living process? The PID alone is not enough: a
// killed process may be a zombie for a while, and its PID may be reused. On Linux the start time in
// /proc/<pid>/stat tells a reused PID apart; elsewhere the lock's age bound covers that case.
import { readFileSync } from 'node:fs';

/** Start time of a process (clock ticks since boot, from /proc), or null where /proc is not available. */
export function processStartToken(pid: number): string | null {
  const stat = readProcStat(pid);
  return stat === null ? null : stat.start;
}

/** True while `pid` runs and, when `token` is known, is still the process that took it. */
export function processAlive(pid: number, token: string | null): boolean {
  if (!Number.isInteger(pid) || pid <= 0) return false;
  const stat = readProcStat(pid);
  if (stat !== null) {
    if (stat.state === 'Z' || stat.state === 'X') return false;
    return token === null || stat.start === token;
  }
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    // EPERM: it exists but belongs to someone else.
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

function readProcStat(pid: number): { state: string; start: string } | null {
  let text: string;
  try {
    text = readFileSync(`/proc/${pid}/stat`, 'latin1');
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    // No /proc at all: say "unknown" so the caller falls back to kill(pid, 0).
    if (code === 'ENOENT' && !procAvailable()) return null;
    return { state: 'X', start: '' };
  }
  // The command name (field 2) may hold spaces and parentheses: fields after it start past the last ')'.
  const rest = text.slice(text.lastIndexOf(')') + 2).split(' ');
  // rest[0] is field 3 (state); field 22 (starttime) is rest[19].
  return { state: rest[0] ?? '', start: rest[19] ?? '' };
}

let procChecked: boolean | null = null;
function procAvailable(): boolean {
  if (procChecked === null) {
    try {
      readFileSync('/proc/self/stat');
      procChecked = true;
    } catch {
      procChecked = false;
    }
  }
  return procChecked;
}
