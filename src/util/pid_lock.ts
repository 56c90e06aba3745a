// A lock between processes: a file created exclusively, holding its owner's pid. A waiter polls
// until the file is gone; a lock whose owner has died (or a torn file) is taken over, so a
// crash never leaves the lock held. Used where several processes write the same files: model
// downloads into one cache, `sirocco keys` beside a gateway on one keys.json.
import { open, readFile, rm } from 'node:fs/promises';
import { setTimeout as sleep } from 'node:timers/promises';

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM'; // exists, owned by someone else
  }
}

export type PidLockOptions = { pollMs: number; onWait?: (owner: number) => void; signal?: AbortSignal };

/** Waits until this process holds the lock file `path`; returns the function that releases it. */
export async function acquirePidLock(path: string, options: PidLockOptions): Promise<() => Promise<void>> {
  const { pollMs, signal } = options;
  let told = false;
  for (;;) {
    signal?.throwIfAborted();
    try {
      const handle = await open(path, 'wx');
      await handle.writeFile(`${process.pid}\n`);
      await handle.close();
      return () => rm(path, { force: true });
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    }
    const owner = Number.parseInt(await readFile(path, 'utf8').catch(() => ''), 10);
    if (Number.isInteger(owner) && owner !== process.pid && isAlive(owner)) {
      if (!told) options.onWait?.(owner);
      told = true;
      await sleep(pollMs, undefined, { signal });
    } else if (Number.isNaN(owner)) {
      await sleep(pollMs, undefined, { signal }); // being written right now, or torn: look again
      const again = await readFile(path, 'utf8').catch(() => null);
      if (again !== null && Number.isNaN(Number.parseInt(again, 10))) await rm(path, { force: true });
    } else {
      await rm(path, { force: true }); // its owner died (or was this process, before a crash): take over
    }
  }
}
