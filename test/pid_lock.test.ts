// The lock between processes (src/util/pid_lock.ts) that keys.json and model downloads take:
// one holder at a time under load, nothing left behind, a dead owner's lock taken over, and a
// lock file without a pid left alone until it is old.
import { execFile, spawn } from 'node:child_process';
import { mkdtemp, readdir, readFile, rm, utimes, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, describe, expect, it } from 'vitest';
import { acquirePidLock } from '../src/util/pid_lock.ts';

const dirs: string[] = [];
const tempDir = async () => {
  const d = await mkdtemp(join(tmpdir(), 'sirocco-lock-'));
  dirs.push(d);
  return d;
};
afterAll(async () => {
  for (const d of dirs) await rm(d, { recursive: true, force: true });
});

describe('pid lock', () => {
  it('lets one process at a time in: 6 processes × 15 locked increments lose none', async () => {
    const dir = await tempDir();
    const [lock, counter] = [join(dir, 'x.lock'), join(dir, 'counter')];
    await writeFile(counter, '0');
    await Promise.all(
      Array.from({ length: 6 }, () => promisify(execFile)(process.execPath, ['--import', 'tsx', 'test/helpers/locked_counter.ts', lock, counter, '15'])),
    );
    expect(Number(await readFile(counter, 'utf8'))).toBe(90);
    expect(await readdir(dir), 'no lock or draft left').toEqual(['counter']);
  });

  it("takes over a lock whose owner has died", async () => {
    const dir = await tempDir();
    const dead = spawn(process.execPath, ['-e', '0']);
    await new Promise((r) => dead.on('exit', r));
    await writeFile(join(dir, 'x.lock'), `${dead.pid}\n`);
    const release = await acquirePidLock(join(dir, 'x.lock'), { pollMs: 5 });
    expect(await readFile(join(dir, 'x.lock'), 'utf8')).toBe(`${process.pid}\n`);
    await release();
    expect(await readdir(dir)).toEqual([]);
  });

  it('waits on a lock file without a pid while it is fresh, and takes it over once it is old', async () => {
    const dir = await tempDir();
    const lock = join(dir, 'x.lock');
    await writeFile(lock, '');
    await expect(acquirePidLock(lock, { pollMs: 5, signal: AbortSignal.timeout(300) })).rejects.toThrow(/timed out|aborted/i);
    expect(await readFile(lock, 'utf8')).toBe('');
    const old = new Date(Date.now() - 60_000);
    await utimes(lock, old, old);
    const release = await acquirePidLock(lock, { pollMs: 5, signal: AbortSignal.timeout(5000) });
    await release();
  });
});
