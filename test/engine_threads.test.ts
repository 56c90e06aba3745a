// Thread counts change nothing: each output is one chain of operations whatever thread runs it,
// and a pool worker that is off its core when a parallel region starts — the caller then runs
// the region without it — changes nothing either. Pinning 3 threads to one core makes the
// workers miss most regions.
import { execFileSync } from 'node:child_process';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Engine } from '../src/engine/engine.ts';
import { TempModels } from './helpers/models.ts';
import { quantizeModel } from '../weights-tools/quantize.ts';
import { threadCasesLogits } from './helpers/thread_cases.ts';

const models = new TempModels();
afterAll(() => models.cleanup());

// The first CPU this process may run on ("pid 1's current affinity list: 0-1" → 0).
function firstAllowedCpu(): string {
  const list = execFileSync('taskset', ['-cp', String(process.pid)], { encoding: 'utf8' }).split(':').at(-1)!.trim();
  return list.split(/[,-]/)[0]!;
}

function childLogits(dir: string, threads: number, pin: boolean): Buffer {
  const command = [process.execPath, '--import', 'tsx', 'test/helpers/threaded_logits.ts', dir, String(threads)];
  const args = pin ? ['-c', firstAllowedCpu(), ...command] : command.slice(1);
  const out = execFileSync(pin ? 'taskset' : process.execPath, args, { encoding: 'utf8', maxBuffer: 1 << 28 });
  return Buffer.from(out, 'base64');
}

// The full-attention case decodes its longest sequence against 3 blocks of keys a KV head, so the
// threads share a decode step's attention groups (cpu_attention.cpp).
describe.each([
  ['mistral-tiny', 'q4_0', 'window 8'],
  ['mixtral-tiny', 'f16', 'window 12'],
  ['mixtral-tiny', 'f16', 'full attention'],
] as const)('%s %s, %s', (preset, dtype, attention) => {
  let dir: string;
  let oneThread: Buffer;
  beforeAll(async () => {
    const window = attention === 'full attention' ? { window: null } : {};
    const source = await models.make({ preset, seed: 29, dtype: dtype === 'q4_0' ? 'f32' : dtype, ...window });
    dir = source;
    if (dtype === 'q4_0') {
      dir = path.join(models.root, `${preset}-q4_0-threads`);
      await quantizeModel({ source, to: dtype, out: dir, quiet: true });
    }
    const engine = await Engine.load(dir, { threads: 1 });
    oneThread = Buffer.from((await threadCasesLogits(engine)).buffer);
    await engine.close();
  });

  it('2 threads give the logits of 1, bit for bit', () => {
    const two = childLogits(dir, 2, false);
    expect(two.length).toBe(oneThread.length);
    expect(two.equals(oneThread)).toBe(true);
  });

  it('3 threads pinned to one core (workers missing regions) give the logits of 1, bit for bit', () => {
    const pinned = childLogits(dir, 3, true);
    expect(pinned.length).toBe(oneThread.length);
    expect(pinned.equals(oneThread)).toBe(true);
  });
});
