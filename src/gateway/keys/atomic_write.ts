// Crash-safe file replacement: a reader (or a restart after power loss) sees either the old
// contents or the new, never a mix. Write a temporary file in the same directory, fsync it,
// rename it over the target, then fsync the directory so the rename itself is durable.
import { randomBytes } from 'node:crypto';
import { link, open, rename, unlink } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';

export async function fsyncDir(dir: string): Promise<void> {
  const fh = await open(dir, 'r');
  try {
    await fh.sync();
  } finally {
    await fh.close();
  }
}

async function writeTemp(target: string, data: string | Buffer, mode: number): Promise<string> {
  const tmp = join(dirname(target), `.${basename(target)}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`);
  // 'wx': never follow or reuse an existing file (a planted symlink would redirect the write).
  const fh = await open(tmp, 'wx', mode);
  try {
    await fh.writeFile(data);
    await fh.chmod(mode); // the umask may have cleared bits we want; never adds any we don't
    await fh.sync();
  } catch (err) {
    await fh.close().catch(() => {});
    await unlink(tmp).catch(() => {});
    throw err;
  }
  await fh.close();
  return tmp;
}

/** Replaces `target` atomically with `data`, file mode `mode`. */
export async function writeFileAtomic(target: string, data: string | Buffer, mode = 0o600): Promise<void> {
  const tmp = await writeTemp(target, data, mode);
  try {
    await rename(tmp, target);
  } catch (err) {
    await unlink(tmp).catch(() => {});
    throw err;
  }
  await fsyncDir(dirname(target));
}

/**
 * Creates `target` with `data` only if it does not exist yet, atomically: link(2) fails
 * when the name is taken, so two processes racing to create it agree on one winner.
 * Returns false (and writes nothing) when the file already existed.
 */
export async function createFileAtomic(target: string, data: string | Buffer, mode = 0o600): Promise<boolean> {
  const tmp = await writeTemp(target, data, mode);
  try {
    await link(tmp, target);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'EEXIST') return false;
    throw err;
  } finally {
    await unlink(tmp).catch(() => {});
  }
  await fsyncDir(dirname(target));
  return true;
}
