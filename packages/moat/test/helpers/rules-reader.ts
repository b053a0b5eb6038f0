// Child process for the atomic-write test: opens the rules file over and over while another process
// replaces it, and prints one JSON line: how many opens succeeded, which hashes it saw, and any failure.
import { Engine } from '../../src/index.js';

const [file, countText] = process.argv.slice(2);
const count = Number(countText);
const hashes: Record<string, number> = {};
const failures: string[] = [];
process.stdout.write('ready\n');
for (let i = 0; i < count; i++) {
  try {
    const e = Engine.open({ rules: file });
    const h = e.rules.info.hash;
    hashes[h] = (hashes[h] ?? 0) + 1;
    // Both versions of the file block 10.0.0.1; a half-written file could not answer this.
    if (e.evaluate({ ip: '10.0.0.1' }).treatment !== 'Blocked') failures.push(`open ${i}: 10.0.0.1 not blocked`);
    e.close();
  } catch (err) {
    failures.push(`open ${i}: ${(err as Error).message}`);
  }
}
process.stdout.write(`${JSON.stringify({ opens: count, hashes, failures: failures.slice(0, 5), failed: failures.length })}\n`);
