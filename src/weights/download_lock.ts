// One downloader per model directory: two processes sharing a cache (two nodes on one machine,
// or a node and `sirocco logits`) would otherwise rename each other's partial files away.
// The lock is a file holding the owner's pid; a lock whose owner has died is taken over.
import { mkdir, open, readFile, rm } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import type { ProgressSink } from './transfer_progress.ts';

const POLL_MS = 250;

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM'; // exists, owned by someone else
  }
}

// Holders within this process, by directory: the lock file only tells processes apart.
const heldHere = new Map<string, Promise<void>>();

/** Waits until this caller holds the lock on `dir`; returns the function that releases it. */
export async function lockModelDir(dir: string, sink: ProgressSink | null, signal?: AbortSignal): Promise<() => Promise<void>> {
  const key = resolve(dir);
  const before = heldHere.get(key) ?? Promise.resolve();
  let releaseHere!: () => void;
  const mine = before.then(() => new Promise<void>((r) => (releaseHere = r)));
  heldHere.set(key, mine);
  await before;
  try {
    const releaseFile = await lockFile(dir, sink, signal);
    return async () => {
      await releaseFile();
      if (heldHere.get(key) === mine) heldHere.delete(key);
      releaseHere();
    };
  } catch (err) {
    if (heldHere.get(key) === mine) heldHere.delete(key);
    releaseHere();
    throw err;
  }
}

async function lockFile(dir: string, sink: ProgressSink | null, signal?: AbortSignal): Promise<() => Promise<void>> {
  const path = join(dir, '.sirocco', 'download.lock');
  await mkdir(join(dir, '.sirocco'), { recursive: true });
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
      if (!told) sink?.write(`waiting for sirocco process ${owner}, which is downloading into ${dir} …\n`);
      told = true;
      await sleep(POLL_MS, undefined, { signal });
    } else if (Number.isNaN(owner)) {
      await sleep(POLL_MS, undefined, { signal }); // being written right now, or torn: look again
      const again = await readFile(path, 'utf8').catch(() => null);
      if (again !== null && Number.isNaN(Number.parseInt(again, 10))) await rm(path, { force: true });
    } else {
      await rm(path, { force: true }); // its owner died (or was this process, before a crash): take over; its chunks are re-checked
    }
  }
}
