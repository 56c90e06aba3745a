// A lock between processes: a file holding its owner's pid, published whole — written under a
// name of its own, then hard-linked to the lock's name, which fails if the lock exists — so a
// waiter never reads it empty. A waiter polls until the file is gone; a lock whose owner has
// died is taken over, so a crash never leaves the lock held. Used where several processes
// write the same files: model downloads into one cache, `sirocco keys` beside a gateway on one
// keys.json. (Created empty and then written, a lock read between the two looked torn to a
// waiter, which took it over: under load — six `sirocco keys create` at once on 2 vCPUs — two
// processes then held it, and one key was lost.)
import { randomBytes } from 'node:crypto';
import { link, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { setTimeout as sleep } from 'node:timers/promises';

// A lock file that does not hold a pid (a torn write by a crashed older version, a full disk)
// is taken over once it is this old.
const UNREADABLE_GRACE_MS = 10_000;

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM'; // exists, owned by someone else
  }
}

export type PidLockOptions = { pollMs: number; onWait?: (owner: number) => void; signal?: AbortSignal };

const NO_HARD_LINKS = new Set(['EPERM', 'ENOTSUP', 'EOPNOTSUPP', 'ENOSYS']);

// true when this process now holds `path`; `draft` holds this process's pid.
async function tryCreate(path: string, draft: string): Promise<boolean> {
  const taken = (err: NodeJS.ErrnoException) => {
    if (err.code === 'EEXIST') return false;
    throw err;
  };
  try {
    await link(draft, path);
    return true;
  } catch (err) {
    if (!NO_HARD_LINKS.has((err as NodeJS.ErrnoException).code ?? '')) return taken(err as NodeJS.ErrnoException);
    // A filesystem without hard links: created, then written (waiters wait out the gap).
    return writeFile(path, `${process.pid}\n`, { flag: 'wx' }).then(() => true, taken);
  }
}

/** Waits until this process holds the lock file `path`; returns the function that releases it. */
export async function acquirePidLock(path: string, options: PidLockOptions): Promise<() => Promise<void>> {
  const { pollMs, signal } = options;
  const draft = `${path}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`;
  await writeFile(draft, `${process.pid}\n`);
  try {
    return await waitFor(path, draft, pollMs, options.onWait, signal);
  } finally {
    await rm(draft, { force: true });
  }
}

// Polls until `path` is ours (tryCreate), taking over a dead owner's or an old pid-less lock.
async function waitFor(path: string, draft: string, pollMs: number, onWait: PidLockOptions['onWait'], signal?: AbortSignal): Promise<() => Promise<void>> {
  let told = false;
  for (;;) {
    signal?.throwIfAborted();
    if (await tryCreate(path, draft)) return () => rm(path, { force: true });
    const text = await readFile(path, 'utf8').catch(() => null);
    if (text === null) continue; // released meanwhile: try again
    const owner = Number.parseInt(text, 10);
    if (Number.isInteger(owner) && owner !== process.pid && isAlive(owner)) {
      if (!told) onWait?.(owner);
      told = true;
      await sleep(pollMs, undefined, { signal });
    } else if (Number.isNaN(owner)) {
      const age = await stat(path).then((s) => Date.now() - s.mtimeMs, () => 0);
      if (age > UNREADABLE_GRACE_MS) await rm(path, { force: true });
      else await sleep(pollMs, undefined, { signal });
    } else {
      await rm(path, { force: true }); // its owner died (or was this process, before a crash): take over
    }
  }
}
