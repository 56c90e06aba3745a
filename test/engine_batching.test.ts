// The batched step API: batch invariance, sequence lifecycle, and refusals.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Engine, KvCacheExhausted } from '../src/engine/engine.ts';
import { generateGreedy } from '../src/engine/generate.ts';
import { argmax } from '../src/engine/greedy.ts';
import { loadModelFiles } from '../src/engine/model_files.ts';
import { KV_DTYPES, createNativeEngine, kvBlockBytes } from '../src/engine/native.ts';
import { loadWasmEngine } from '../src/engine/wasm_load.ts';
import { prompt } from './helpers/check_reference.ts';
import { TempModels } from './helpers/models.ts';

const models = new TempModels();
let engine: Engine;
beforeAll(async () => {
  engine = await Engine.load(await models.make({ preset: 'mixtral-tiny', seed: 17 }));
});
afterAll(async () => {
  await engine.close();
  models.cleanup();
});

// Every output row is computed independently of the other rows in the step, so the values
// are identical, not merely close.
async function expectBatchInvariant(e: Engine): Promise<void> {
  const target = prompt(30, 1, 512);
  const [alone] = await generateGreedy(e, [target], { steps: 5, chunk: 7, promptLogits: true });
  const batch = await generateGreedy(e, [prompt(9, 2, 512), target, prompt(31, 3, 512)], { steps: 5, chunk: 7, promptLogits: true });
  const inBatch = batch[1]!;
  expect(inBatch.generated).toEqual(alone!.generated);
  inBatch.stepLogits.forEach((v, k) => expect(Array.from(v)).toEqual(Array.from(alone!.stepLogits[k]!)));
  inBatch.promptLogits.forEach((v, k) => expect(Array.from(v)).toEqual(Array.from(alone!.promptLogits[k]!)));
}

describe('batching', () => {
  it('a sequence gives the same logits alone and inside a batch', async () => {
    await expectBatchInvariant(engine);
  });

  it('the same with q8_0 K/V (each row quantized on its own)', async () => {
    const q8 = await Engine.load(await models.make({ preset: 'mixtral-tiny', seed: 17, headDim: 32 }), { kvDtype: 'q8_0' });
    try {
      await expectBatchInvariant(q8);
    } finally {
      await q8.close();
    }
  });

  // The node sizes its K/V pool in blocks from kvBlockBytes (TypeScript); the engines allocate
  // by their own kv_row_bytes (dtype.h): the two must agree for every dtype and backend.
  it("the engines' K/V block bytes are what the node sizes its pool by, for every K/V dtype", async () => {
    const dir = await models.make({ preset: 'mixtral-tiny', seed: 17, headDim: 32 });
    for (const backend of ['native', 'wasm'] as const)
      for (const kvDtype of KV_DTYPES) {
        const e = await Engine.load(dir, { backend, kvDtype });
        try {
          expect(e.info().kvBlockBytes, `${backend} ${kvDtype}`).toBe(kvBlockBytes(e.config, kvDtype));
        } finally {
          await e.close();
        }
      }
  });

  it('refuses q8_0 K/V for a head_dim that is no multiple of 32, saying what to use', async () => {
    const dir = await models.make({ preset: 'mixtral-tiny', seed: 17 });  // head_dim 24
    for (const backend of ['native', 'wasm'] as const)
      await expect(Engine.load(dir, { backend, kvDtype: 'q8_0' }), backend).rejects.toThrow(/head_dim is 24: use f16 or f32/);
  });

  // The node's batch runner and the benches keep their logits in one buffer from step to step
  // (a fresh one costs its pages' faults): the numbers must be a fresh step's, on either engine.
  it('reuseLogits writes the same logits as a fresh step into one buffer the engine keeps, grown as rows grow', async () => {
    const dir = await models.make({ preset: 'mixtral-tiny', seed: 17 });
    for (const backend of ['native', 'wasm'] as const) {
      const e = await Engine.load(dir, { backend });
      try {
        const fresh = [e.createSequence(), e.createSequence()], kept = [e.createSequence(), e.createSequence()];
        const first = prompt(12, 5, 512);
        const [[a]] = (await e.step([{ sequence: fresh[0]!, tokens: first }])) as [[Float32Array]];
        const [[b]] = (await e.step([{ sequence: kept[0]!, tokens: first }], { reuseLogits: true })) as [[Float32Array]];
        expect(Array.from(b), backend).toEqual(Array.from(a));
        const before = Float32Array.from(b);
        const [[a2]] = (await e.step([{ sequence: fresh[0]!, tokens: [argmax(a)] }])) as [[Float32Array]];
        const [[b2]] = (await e.step([{ sequence: kept[0]!, tokens: [argmax(b)] }], { reuseLogits: true })) as [[Float32Array]];
        expect(b2.buffer, `${backend}: the same buffer`).toBe(b.buffer);
        expect(Array.from(b2), backend).toEqual(Array.from(a2));
        expect(Array.from(b), `${backend}: the first step's view now shows the second's`).toEqual(Array.from(b2));
        expect(Array.from(b)).not.toEqual(Array.from(before));
        // 1 + 4 rows: more than the buffer held, each row its own sequence's.
        const second = prompt(4, 6, 512);
        const want = await e.step([{ sequence: fresh[0]!, tokens: [argmax(a2)] }, { sequence: fresh[1]!, tokens: second, allLogits: true }]);
        const got = await e.step([{ sequence: kept[0]!, tokens: [argmax(b2)] }, { sequence: kept[1]!, tokens: second, allLogits: true }], { reuseLogits: true });
        expect(got[1]).toHaveLength(4);
        expect(got.flat().map((r) => Array.from(r)), backend).toEqual(want.flat().map((r) => Array.from(r)));
        expect(got[0]![0]!.buffer).not.toBe(b.buffer);
      } finally {
        await e.close();
      }
    }
  });

  it('refuses an out buffer shorter than the step\'s logits, with the sizes, before stepping', async () => {
    const model = await loadModelFiles(await models.make({ preset: 'mixtral-tiny', seed: 17 }));
    for (const [backend, core] of [['native', createNativeEngine(model)], ['wasm', await loadWasmEngine(model)]] as const)
      try {
        const seq = core.createSequence();
        const args = [Int32Array.of(seq), Int32Array.of(2), Uint8Array.of(1), Int32Array.of(5, 6)] as const;
        await expect(Promise.resolve().then(() => core.step(...args, new Float32Array(model.config.vocabSize))), backend).rejects.toThrow(
          new RegExp(`out must be a Float32Array of at least ${2 * model.config.vocabSize} floats`),
        );
        expect(core.sequenceLength(seq), `${backend}: the refused step changed nothing`).toBe(0);
        const out = new Float32Array(2 * model.config.vocabSize);
        expect(await core.step(...args, out), backend).toBe(out);
        expect(core.sequenceLength(seq)).toBe(2);
      } finally {
        core.close();
      }
  });

  it('prefilling in chunks or token by token reaches the same state as one whole prefill', async () => {
    const tokens = prompt(25, 4, 512);
    const whole = engine.createSequence();
    const [[wholeLast]] = (await engine.step([{ sequence: whole, tokens }])) as [[Float32Array]];
    const stepped = engine.createSequence();
    let last: Float32Array | undefined;
    for (const t of tokens) last = (await engine.step([{ sequence: stepped, tokens: [t] }]))[0]![0];
    expect(engine.sequenceLength(whole)).toBe(25);
    expect(engine.sequenceLength(stepped)).toBe(25);
    const maxDiff = Math.max(...Array.from(wholeLast, (v, i) => Math.abs(v - last![i]!)));
    expect(maxDiff).toBeLessThan(1e-4);
    engine.freeSequence(whole);
    engine.freeSequence(stepped);
  });

  // A token's attention reads its keys in an order that depends on how many it sees alone, and
  // a chunk's consecutive tokens may be read together (kernels.h: attn_tokens) with each
  // token's numbers its own: every prompt token's logits are the same bits whatever the chunks.
  // 1,100 tokens cross two 512-key work items; 2 and 4 query heads a KV head; every K/V dtype;
  // and a 700-key sliding window, whose tokens past it read a first block of their own, then
  // the blocks at multiples of 512 that they share.
  it('a prompt gives the same logits, to the bit, whole, in chunks or token by token', async () => {
    const tokens = prompt(1100, 8, 512);
    const shapes = [{ heads: 8, kvHeads: 4, window: null }, { heads: 16, kvHeads: 4, window: null }, { heads: 16, kvHeads: 4, window: 700 }];
    for (const shape of shapes)
      for (const kvDtype of KV_DTYPES) {
        const dir = await models.make({ preset: 'mistral-tiny', seed: 23, headDim: 32, ...shape });
        const e = await Engine.load(dir, { kvDtype });
        try {
          const logits = async (chunk: number) =>
            (await generateGreedy(e, [tokens], { steps: 1, chunk, promptLogits: true }))[0]!.promptLogits.map((v) => Array.from(v));
          const whole = await logits(tokens.length);
          for (const chunk of [1, 7, 333]) expect(await logits(chunk), `${JSON.stringify(shape)} ${kvDtype} chunk ${chunk}`).toEqual(whole);
        } finally {
          await e.close();
        }
      }
  });

  it('reset returns a sequence to position 0 and frees its cache blocks', async () => {
    const s = engine.createSequence();
    const before = engine.info().kvBlocksInUse;
    const [[first]] = (await engine.step([{ sequence: s, tokens: prompt(40, 5, 512) }])) as [[Float32Array]];
    expect(engine.info().kvBlocksInUse).toBeGreaterThan(before);
    engine.resetSequence(s);
    expect(engine.sequenceLength(s)).toBe(0);
    expect(engine.info().kvBlocksInUse).toBe(before);
    const [[again]] = (await engine.step([{ sequence: s, tokens: prompt(40, 5, 512) }])) as [[Float32Array]];
    expect(Array.from(again)).toEqual(Array.from(first));
    engine.freeSequence(s);
  });

  it('truncating a full-attention sequence and prefilling a new suffix equals a fresh prefill', async () => {
    const dir = await models.make({ preset: 'mixtral-tiny', seed: 2, window: null });
    const full = await Engine.load(dir);
    try {
      const shared = prompt(21, 8, 512);
      const [a, b] = [[...shared, ...prompt(6, 9, 512)], [...shared, ...prompt(5, 10, 512)]];
      const s = full.createSequence();
      await full.step([{ sequence: s, tokens: a }]);
      expect(full.truncateSequence(s, shared.length)).toBe(true);
      expect(full.sequenceLength(s)).toBe(shared.length);
      const [[reused]] = (await full.step([{ sequence: s, tokens: b.slice(shared.length) }])) as [[Float32Array]];
      const fresh = full.createSequence();
      const [[cold]] = (await full.step([{ sequence: fresh, tokens: b }])) as [[Float32Array]];
      const maxDiff = Math.max(...Array.from(cold, (v, i) => Math.abs(v - reused[i]!)));
      expect(maxDiff).toBeLessThan(1e-4);
      expect(full.truncateSequence(s, 1000)).toBe(false);
    } finally {
      await full.close();
    }
  });

  it('a sliding-window ring that wrapped refuses to truncate into its history, but for one position', async () => {
    const s = engine.createSequence();
    await engine.step([{ sequence: s, tokens: prompt(30, 1, 512) }]);
    expect(engine.truncateSequence(s, 20)).toBe(false);
    expect(engine.truncateSequence(s, 28)).toBe(false);
    expect(engine.truncateSequence(s, 30)).toBe(true);
    expect(engine.sequenceLength(s)).toBe(30);
    expect(engine.truncateSequence(s, 29)).toBe(true); // only position 29 − W was overwritten
    expect(engine.sequenceLength(s)).toBe(29);
    engine.freeSequence(s);
  });

  it('a ring that has not wrapped truncates anywhere, and continues as a fresh prefill would', async () => {
    const window = engine.config.slidingWindow!;
    const [s, fresh] = [engine.createSequence(), engine.createSequence()];
    const p = prompt(window, 11, 512);
    await engine.step([{ sequence: s, tokens: p }]);
    expect(engine.truncateSequence(s, 4)).toBe(true);
    const suffix = prompt(window, 12, 512); // wraps the ring from position 4 on
    const [[got]] = (await engine.step([{ sequence: s, tokens: suffix }])) as [[Float32Array]];
    await engine.step([{ sequence: fresh, tokens: p.slice(0, 4) }]);
    const [[want]] = (await engine.step([{ sequence: fresh, tokens: suffix }])) as [[Float32Array]];
    expect(got).toEqual(want);
    engine.freeSequence(s);
    engine.freeSequence(fresh);
  });

  it('a sliding-window sequence keeps at most W slots of cache however long it runs', async () => {
    const s = engine.createSequence();
    const window = engine.config.slidingWindow!;
    const perBlock = engine.info().kvBlockSlots;
    const before = engine.info().kvBlocksInUse;
    await engine.step([{ sequence: s, tokens: prompt(10 * window, 6, 512) }]);
    expect(engine.info().kvBlocksInUse - before).toBe(Math.ceil(window / perBlock));
    engine.freeSequence(s);
  });

  it('steps run off the JS thread: the event loop keeps turning during a step', async () => {
    const s = engine.createSequence();
    let ticks = 0;
    const timer = setInterval(() => ticks++, 0);
    const steps = Array.from({ length: 20 }, () => engine.step([{ sequence: s, tokens: prompt(64, 7, 512) }]));
    await Promise.all(steps);
    clearInterval(timer);
    expect(ticks).toBeGreaterThan(0);
    expect(engine.sequenceLength(s)).toBe(20 * 64);
    engine.freeSequence(s);
  });

  it('refuses bad steps with a clear error and keeps working', async () => {
    const s = engine.createSequence();
    await expect(engine.step([{ sequence: 9999, tokens: [1] }])).rejects.toThrow(/sequence 9999 does not exist/);
    await expect(engine.step([{ sequence: s, tokens: [512] }])).rejects.toThrow(/outside the vocabulary/);
    await expect(engine.step([{ sequence: s, tokens: [-1] }])).rejects.toThrow(/outside the vocabulary/);
    await expect(engine.step([{ sequence: s, tokens: [] }])).rejects.toThrow(/has no tokens/);
    await expect(engine.step([{ sequence: s, tokens: [1] }, { sequence: s, tokens: [2] }])).rejects.toThrow(/twice/);
    await expect(engine.step([])).rejects.toThrow(/at least one sequence/);
    expect(engine.sequenceLength(s)).toBe(0);
    const [[ok]] = (await engine.step([{ sequence: s, tokens: [1, 2, 3] }])) as [[Float32Array]];
    expect(ok).toHaveLength(512);
    engine.freeSequence(s);
    expect(() => engine.freeSequence(s)).toThrow(/does not exist/);
  });

  it('a full K/V pool refuses the step instead of growing without bound', async () => {
    const dir = await models.make({ preset: 'mistral-tiny', seed: 1, window: null });
    const small = await Engine.load(dir, { kvMaxBlocks: 2 });
    try {
      const s = small.createSequence();
      await small.step([{ sequence: s, tokens: prompt(32, 1, 512) }]); // exactly 2 blocks
      await expect(small.step([{ sequence: s, tokens: [5] }])).rejects.toThrow(/K\/V cache memory is exhausted/);
      await expect(small.step([{ sequence: s, tokens: [5] }])).rejects.toBeInstanceOf(KvCacheExhausted);
      small.resetSequence(s);
      await small.step([{ sequence: s, tokens: [5] }]);
      expect(small.sequenceLength(s)).toBe(1);
    } finally {
      await small.close();
    }
  });

  // The CPU backend stores K/V in chunks of 32 blocks (native/backend/cpu/cpu_backend.cpp): a
  // sequence whose blocks alternate with another's, cross chunks, and reuse a freed sequence's
  // blocks must compute exactly what it computes with a pool to itself; a chunk never takes the
  // pool past kvMaxBlocks.
  it('logits do not depend on where in the K/V pool the blocks of a sequence lie', async () => {
    const dir = await models.make({ preset: 'mistral-tiny', seed: 2, window: null });
    const tokens = prompt(900, 6, 512);
    const lastLogits = async (e: Engine, s: number, from: number, to: number) => {
      let last: Float32Array | undefined;
      for (let at = from; at < to; at += 16) [[last]] = (await e.step([{ sequence: s, tokens: tokens.slice(at, Math.min(to, at + 16)) }])) as [[Float32Array]];
      return Array.from(last!);
    };
    const alone = await Engine.load(dir, { kvMaxBlocks: 57 });
    const shared = await Engine.load(dir);
    try {
      const expected = await lastLogits(alone, alone.createSequence(), 0, tokens.length); // 57 blocks: chunks of 32 and 25
      await expect(alone.step([{ sequence: alone.createSequence(), tokens: [5] }])).rejects.toBeInstanceOf(KvCacheExhausted);
      const [a, b] = [shared.createSequence(), shared.createSequence()];
      for (let at = 0; at < 560; at += 16) {
        await lastLogits(shared, a, at, at + 16); // a and b take blocks in turn
        await shared.step([{ sequence: b, tokens: tokens.slice(at, at + 16) }]);
      }
      shared.freeSequence(b); // a continues in b's blocks
      expect(await lastLogits(shared, a, 560, tokens.length)).toEqual(expected);
    } finally {
      await Promise.all([alone.close(), shared.close()]);
    }
  });

  it('freed sequence ids are reused, and a reused id starts empty', async () => {
    const a = engine.createSequence();
    await engine.step([{ sequence: a, tokens: prompt(20, 3, 512) }]);
    engine.freeSequence(a);
    const b = engine.createSequence();
    expect(b).toBe(a);
    expect(engine.sequenceLength(b)).toBe(0);
    const ids = Array.from({ length: 50 }, () => engine.createSequence());
    ids.forEach((id) => engine.freeSequence(id));
    const again = Array.from({ length: 50 }, () => engine.createSequence());
    expect(new Set([...again, b]).size).toBe(51);
    expect(Math.max(...again)).toBe(Math.max(...ids)); // no id beyond the ones freed
    again.forEach((id) => engine.freeSequence(id));
    engine.freeSequence(b);
  });

  it('info() can be read while a step runs', async () => {
    const s = engine.createSequence();
    const step = engine.step([{ sequence: s, tokens: prompt(200, 4, 512) }]);
    const during = engine.info();
    expect(during.kvBlocksInUse).toBeGreaterThanOrEqual(0);
    expect(during.backend).toMatch(/^cpu\/(scalar|avx2|avx512)$/);
    await step;
    expect(engine.info().kvBlocksInUse).toBeGreaterThan(0);
    engine.freeSequence(s);
  });
});
