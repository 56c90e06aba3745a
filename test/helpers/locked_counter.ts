// A process that adds 1 to the number in COUNTER, ROUNDS times, each read-modify-write under
// the pid lock LOCK, with a pause inside so that writers overlap: `node --import tsx
// test/helpers/locked_counter.ts LOCK COUNTER ROUNDS` (pid_lock.test.ts runs several at once).
import { readFile, writeFile } from 'node:fs/promises';
import { setTimeout as sleep } from 'node:timers/promises';
import { acquirePidLock } from '../../src/util/pid_lock.ts';

const [lock, counter, rounds] = process.argv.slice(2) as [string, string, string];
for (let i = 0; i < Number(rounds); i++) {
  const release = await acquirePidLock(lock, { pollMs: 1 });
  try {
    const n = Number(await readFile(counter, 'utf8'));
    await sleep(1);
    await writeFile(counter, String(n + 1));
  } finally {
    await release();
  }
}
