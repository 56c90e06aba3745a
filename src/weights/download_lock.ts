// One downloader per model directory: two processes sharing a cache (two nodes on one machine,
// or a node and `sirocco logits`) would otherwise rename each other's partial files away.
// The lock is a file holding the owner's pid; a lock whose owner has died is taken over.
import { mkdir } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { acquirePidLock } from '../util/pid_lock.ts';
import type { ProgressSink } from './transfer_progress.ts';

const POLL_MS = 250;

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
  await mkdir(join(dir, '.sirocco'), { recursive: true });
  // A dead owner's chunks are re-checked by the next download, so taking over is safe.
  return acquirePidLock(join(dir, '.sirocco', 'download.lock'), {
    pollMs: POLL_MS,
    signal,
    onWait: (owner) => sink?.write(`waiting for sirocco process ${owner}, which is downloading into ${dir} …\n`),
  });
}
