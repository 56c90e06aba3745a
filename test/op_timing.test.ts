// Op timing (Engine.setOpTiming / opTimes: engine_op_timing, a timed_backend around each
// shard's): every backend op of the steps after it is turned on, added up on shard 0 — calls,
// wall time, and the bytes of the matrices it read — while the logits stay the ones computed
// without it, to the bit; restarted, it counts from zero; off, it reports nothing. The bench
// reads a decode step's share of matmul time and their bandwidth from it.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { measureDecodeOps } from '../bench/decode_ops.ts';
import { decodeBytesPerToken } from '../bench/roofline.ts';
import type { ModelConfig } from '../src/engine/config.ts';
import { Engine } from '../src/engine/engine.ts';
import type { OpTime } from '../src/engine/native.ts';
import { TempModels } from './helpers/models.ts';

const models = new TempModels();
const dirs: Record<string, string> = {};
beforeAll(async () => {
  for (const preset of ['mistral-tiny', 'mixtral-tiny'] as const) dirs[preset] = await models.make({ preset, seed: 5 });
});
afterAll(() => models.cleanup());

const PROMPT = [3, 1, 4, 1, 5, 9, 2, 6], DECODE = 5;

// A prompt, then DECODE steps of fixed tokens: every step's logits, copied.
async function run(e: Engine): Promise<Float32Array[]> {
  const sequence = e.createSequence(), out: Float32Array[] = [];
  out.push(Float32Array.from((await e.step([{ sequence, tokens: PROMPT }]))[0]![0]!));
  for (let i = 0; i < DECODE; i++) out.push(Float32Array.from((await e.step([{ sequence, tokens: [7 + i] }]))[0]![0]!));
  e.freeSequence(sequence);
  return out;
}

// f32 matrices one step reads on a single shard, with `experts` experts serving its tokens (MoE):
// the roofline's weights a token (bench/roofline.ts) but the embedding's row, which no matrix op reads.
const matrixBytesPerStep = (c: ModelConfig, experts = c.topK) => decodeBytesPerToken({ ...c, topK: experts }, 4) - c.hiddenSize * 4;

const byOp = (times: OpTime[]) => Object.fromEntries(times.map((t) => [t.op, t]));

describe('op timing', () => {
  for (const preset of ['mistral-tiny', 'mixtral-tiny'] as const) {
    it(`${preset}: counts each op of the timed steps, the matrices they read, and changes no logit`, async () => {
      const e = await Engine.load(dirs[preset]!, { threads: 2 });
      try {
        const c = e.config, L = c.numLayers, steps = 1 + DECODE;
        const plain = await run(e);
        expect(e.opTimes(), 'off: nothing').toEqual([]);
        e.setOpTiming(true);
        const timed = await run(e);
        for (let s = 0; s < steps; s++) expect(timed[s], `step ${s}: the same bits`).toEqual(plain[s]);
        const t = byOp(e.opTimes());
        expect(t.begin_step!.calls).toBe(steps);
        expect(t.attention!.calls).toBe(L * steps);
        expect(t.kv_write!.calls).toBe(L * steps);
        expect(t.rmsnorm!.calls).toBe((2 * L + 1) * steps);
        expect(t.logits!.calls).toBe(steps);
        // Dense: Q/K/V, O, gate/up, down — 4 calls a layer; MoE: Q/K/V, O, the router.
        expect(t.matmul!.calls).toBe((c.numExperts > 0 ? 3 : 4) * L * steps);
        expect(t.moe!.calls).toBe(c.numExperts > 0 ? L * steps : 0);
        expect(t.swiglu!.calls).toBe(c.numExperts > 0 ? 0 : L * steps);
        // Decode steps read each matrix once; the prompt's step reads the experts its tokens chose.
        const read = t.matmul!.weightBytes + t.moe!.weightBytes + t.logits!.weightBytes;
        const decodeBytes = DECODE * matrixBytesPerStep(c);
        if (c.numExperts === 0) expect(read).toBe(steps * matrixBytesPerStep(c));
        else {
          expect(read).toBeGreaterThanOrEqual(decodeBytes + matrixBytesPerStep(c));
          expect(read).toBeLessThanOrEqual(decodeBytes + matrixBytesPerStep(c, Math.min(c.numExperts, c.topK * PROMPT.length)));
        }
        for (const op of ['matmul', 'attention', 'logits']) expect(t[op]!.seconds, op).toBeGreaterThan(0);
        expect(t.rope!.weightBytes + t.attention!.weightBytes, 'only matrices count').toBe(0);

        e.setOpTiming(true);  // again: from zero
        expect(byOp(e.opTimes()).matmul!.calls).toBe(0);
        e.setOpTiming(false);
        expect(e.opTimes()).toEqual([]);
        expect(await run(e)).toEqual(plain);
      } finally {
        await e.close();
      }
    });
  }

  it('counts shard 0 of a tensor-parallel engine', async () => {
    const e = await Engine.load(dirs['mistral-tiny']!, { tp: 2 });
    try {
      e.setOpTiming(true);
      await run(e);
      const t = byOp(e.opTimes()), c = e.config;
      expect(t.attention!.calls).toBe(c.numLayers * (1 + DECODE));
      // Shard 0 reads its slice of every matrix: all its weights but the norms (every shard's)
      // and its half of the embedding table, each step.
      const norms = (2 * c.numLayers + 1) * c.hiddenSize * 4, embedHalf = (c.vocabSize / 2) * c.hiddenSize * 4;
      const perStep = e.info().weightBytesPerShard[0]! - norms - embedHalf;
      expect(perStep).toBeLessThan(matrixBytesPerStep(c));
      expect(t.matmul!.weightBytes + t.logits!.weightBytes).toBe((1 + DECODE) * perStep);
    } finally {
      await e.close();
    }
  });

  it("splits the bench's decode steps into matrix reads, attention, other ops and gaps", async () => {
    const e = await Engine.load(dirs['mixtral-tiny']!, { threads: 2 });
    try {
      const o = await measureDecodeOps(e, 6, () => 42);
      expect(o.steps).toBe(6);
      for (const share of [o.matrixShare, o.attentionShare, o.otherOpsShare, o.betweenShare]) expect(share).toBeGreaterThan(0);
      expect(o.matrixShare + o.attentionShare + o.otherOpsShare + o.betweenShare).toBeCloseTo(1, 9);
      expect(o.matrixGBs).toBeGreaterThan(0);
      expect(o.probeGBs, "the probe's figure").toBe(42);
      expect(e.opTimes(), 'timing off again').toEqual([]);
    } finally {
      await e.close();
    }
  });

  it('is a native engine feature: the WASM engine refuses it', async () => {
    const e = await Engine.load(dirs['mistral-tiny']!, { backend: 'wasm' });
    try {
      expect(() => e.setOpTiming(true)).toThrow(/native engine/);
      expect(e.opTimes()).toEqual([]);
    } finally {
      await e.close();
    }
  });
});
