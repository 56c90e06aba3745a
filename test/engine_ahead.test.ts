// Steps run ahead (StepOptions.ahead): the engine runs greedy decoding's next step on its own;
// a step() asking exactly that takes its logits, any other call takes it back. Nothing
// computed may change: every comparison here is bit for bit against the same steps asked one
// at a time.
import { availableParallelism } from 'node:os';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Engine, GREEDY, KvCacheExhausted, type AheadDraw, type StepOptions } from '../src/engine/engine.ts';
import { prompt } from './helpers/check_reference.ts';
import { TempModels } from './helpers/models.ts';

const models = new TempModels();
let ring: Engine; // mixtral-tiny, window 12
let paged: Engine; // full attention
let slow: Engine; // steps of milliseconds: the next step() comes while the one ahead runs
beforeAll(async () => {
  ring = await Engine.load(await models.make({ preset: 'mixtral-tiny', seed: 31 }));
  paged = await Engine.load(await models.make({ preset: 'mixtral-tiny', seed: 32, window: null }));
  slow = await Engine.load(await models.make({ preset: 'mistral-tiny', seed: 33, hidden: 384, intermediate: 1536, layers: 4, vocab: 4096, window: 16 }), { threads: 1 });
});
afterAll(async () => {
  await Promise.all([ring, paged, slow].map((e) => e.close()));
  models.cleanup();
});

type Fed = (i: number, step: number, argmax: number, row?: Float32Array) => number; // the token sequence i is fed
const greedy: Fed = (_i, _step, argmax) => argmax;

// The tokens decode() fed, and what each row's RowScan said the engine fed its step ahead.
type FedLog = { fed: number[]; fedAhead: number[] };

// Prefills each prompt in one step, then decodes `steps` tokens for all of them together, each
// fed `feed`'s token; every step with `options`, or asking the engine to draw the tokens of step
// k + 1 with draws(k). Each step's logits rows, copied; what was fed, in `log`.
async function decode(engine: Engine, prompts: number[][], steps: number, feed: Fed, options: StepOptions = {}, draws?: (k: number) => AheadDraw[], log?: FedLog) {
  const seqs = prompts.map(() => engine.createSequence());
  const out: Float32Array[][] = [];
  const opts = (k: number) => (draws ? { ...options, ahead: draws(k) } : options);
  try {
    let { rows, scans } = await engine.stepScanned(prompts.map((p, i) => ({ sequence: seqs[i]!, tokens: p })), opts(0));
    for (let k = 0; ; k++) {
      out.push(rows.map((r) => Float32Array.from(r[0]!)));
      if (k === steps) break;
      const inputs = seqs.map((sequence, i) => ({ sequence, tokens: [feed(i, k, scans[i]![0]!.argmax, rows[i]![0]!)] }));
      log?.fed.push(...inputs.map((input) => input.tokens[0]!));
      log?.fedAhead.push(...scans.map((s) => s[0]!.fedAhead));
      ({ rows, scans } = await engine.stepScanned(inputs, opts(k + 1)));
    }
  } finally {
    for (const s of seqs) engine.freeSequence(s);
  }
  return out;
}

const counts = (e: Engine) => ({ ahead: e.info().aheadAnswered, back: e.info().aheadTakenBack });
const V = 512;
const prompts = [prompt(20, 1, V), prompt(5, 2, V), prompt(13, 3, V)];

describe('steps run ahead', () => {
  for (const [name, engine] of [['a sliding-window ring', () => ring], ['a paged full-attention cache', () => paged]] as const)
    it(`greedy decoding gives the same logits, bit for bit, each step taken from the one run ahead (${name})`, async () => {
      const e = engine();
      const without: FedLog = { fed: [], fedAhead: [] };
      const want = await decode(e, prompts, 30, greedy, {}, undefined, without);
      expect(new Set(without.fedAhead)).toEqual(new Set([-1])); // nothing ran ahead
      const before = counts(e);
      const log: FedLog = { fed: [], fedAhead: [] };
      const got = await decode(e, prompts, 30, greedy, { ahead: true, reuseLogits: true }, undefined, log);
      expect(got).toEqual(want);
      expect(log.fedAhead).toEqual(log.fed); // each row's argmax
      // Every decode step came from the step run ahead; the one after the last was taken back
      // as each sequence was freed.
      expect(counts(e)).toEqual({ ahead: before.ahead + 30, back: before.back + 3 });
    });

  it('sampled decoding too: the engine draws each token with the uniform drawn beforehand, as drawToken does', async () => {
    // Sequence i's k-th draw: its own settings, a uniform from a fixed stream.
    const draw = (i: number, k: number): AheadDraw => ({ temperature: [0.7, 1.3, 0][i]!, topK: [0, 40, 0][i]!, topP: [0.9, 1, 1][i]!, minP: [0, 0.05, 0][i]!, u: ((i * 37 + k * 101) % 97) / 97 });
    const drawn = (e: Engine): Fed => (i, k, argmax, row) => (draw(i, k).temperature === 0 ? argmax : e.drawToken(row!, { ...draw(i, k), best: argmax }));
    const want = await decode(ring, prompts, 24, drawn(ring));
    const before = counts(ring);
    const log: FedLog = { fed: [], fedAhead: [] };
    const got = await decode(ring, prompts, 24, drawn(ring), { reuseLogits: true }, (k) => prompts.map((_, i) => draw(i, k)), log);
    expect(got).toEqual(want);
    // The engine hands back the tokens it drew: drawToken's, so the node need not draw them again.
    expect(log.fedAhead).toEqual(log.fed);
    const argmaxes = want.slice(0, -1).flatMap((rows) => rows.map((r) => r.indexOf(Math.max(...r))));
    expect(log.fed.some((t, j) => t !== argmaxes[j]), 'a draw that is not the argmax').toBe(true);
    expect(counts(ring)).toEqual({ ahead: before.ahead + 24, back: before.back + 3 });
  });

  it('the same when each step() comes while the step ahead still runs', async () => {
    const ps = [prompt(24, 4, 4096), prompt(9, 5, 4096)];
    const want = await decode(slow, ps, 24, greedy);
    const before = counts(slow);
    expect(await decode(slow, ps, 24, greedy, { ahead: true })).toEqual(want);
    expect(counts(slow)).toEqual({ ahead: before.ahead + 24, back: before.back + 2 });
  });

  for (const [name, engine] of [['a sliding-window ring, past its window', () => ring], ['a paged cache', () => paged]] as const)
    it(`a step() asking for other tokens takes the step run ahead back first (${name})`, async () => {
      const e = engine();
      // Never the argmax: every step run ahead is taken back, the ring one position each time.
      const other: Fed = (i, k, argmax) => (argmax + 1 + ((i * 7 + k * 13) % 50)) % V;
      const want = await decode(e, prompts, 20, other);
      const before = counts(e);
      const log: FedLog = { fed: [], fedAhead: [] };
      expect(await decode(e, prompts, 20, other, { ahead: true }, undefined, log)).toEqual(want);
      // What the engine fed its steps ahead (the argmaxes), not what the caller took.
      expect(log.fedAhead.every((t, j) => t >= 0 && t !== log.fed[j])).toBe(true);
      expect(counts(e)).toEqual({ ahead: before.ahead, back: before.back + 21 * 3 });
    });

  it('a step() of some of its sequences takes their rows and takes the others back', async () => {
    const [a, b] = [ring.createSequence(), ring.createSequence()];
    const [ra, rb] = [ring.createSequence(), ring.createSequence()];
    try {
      const first = await ring.stepScanned([{ sequence: a, tokens: prompts[0]! }, { sequence: b, tokens: prompts[2]! }], { ahead: true });
      const [ta, tb] = first.scans.map((s) => s[0]!.argmax);
      const before = counts(ring);
      // a alone, answered ahead; then b alone with the token it was fed ahead, recomputed.
      const [[aNext]] = await ring.step([{ sequence: a, tokens: [ta!] }]);
      expect(counts(ring)).toEqual({ ahead: before.ahead + 1, back: before.back + 1 });
      const [[bNext]] = await ring.step([{ sequence: b, tokens: [tb!] }]);
      expect(counts(ring)).toEqual({ ahead: before.ahead + 1, back: before.back + 1 });
      await ring.step([{ sequence: ra, tokens: prompts[0]! }, { sequence: rb, tokens: prompts[2]! }]);
      const [[aWant], [bWant]] = await ring.step([{ sequence: ra, tokens: [ta!] }, { sequence: rb, tokens: [tb!] }]);
      expect(aNext).toEqual(aWant);
      expect(bNext).toEqual(bWant);
      expect(ring.sequenceLength(a)).toBe(prompts[0]!.length + 1);
    } finally {
      for (const s of [a, b, ra, rb]) ring.freeSequence(s);
    }
  });

  it('takeBack(sequences) takes back those alone; the rest still answer the next step', async () => {
    const ps = [prompt(24, 8, 4096), prompt(9, 9, 4096), prompt(17, 10, 4096)];
    const want = await decode(slow, ps, 3, greedy);
    const seqs = ps.map(() => slow.createSequence());
    try {
      let { rows, scans } = await slow.stepScanned(ps.map((p, i) => ({ sequence: seqs[i]!, tokens: p })), { ahead: true });
      const got = [rows.map((r) => Float32Array.from(r[0]!))];
      const before = counts(slow);
      await slow.takeBack([seqs[1]!]); // while the step ahead runs
      expect(slow.sequenceLength(seqs[1]!)).toBe(9);
      // The other two take their rows from the step run ahead, in either order.
      const two = [2, 0].map((i) => ({ sequence: seqs[i]!, tokens: [scans[i]![0]!.argmax] }));
      const answered = await slow.stepScanned(two, { ahead: true });
      expect(counts(slow)).toEqual({ ahead: before.ahead + 1, back: before.back + 1 });
      ({ rows, scans } = await slow.stepScanned([{ sequence: seqs[1]!, tokens: [scans[1]![0]!.argmax] }])); // recomputed
      got.push([answered.rows[1]![0]!, rows[0]![0]!, answered.rows[0]![0]!].map((r) => Float32Array.from(r)));
      expect(got).toEqual(want.slice(0, 2));
    } finally {
      for (const s of seqs) slow.freeSequence(s);
    }
  });

  it('the synchronous sequence calls and takeBack() see the sequences as if nothing ran ahead', async () => {
    const s = slow.createSequence();
    const ref = slow.createSequence();
    try {
      const p = prompt(30, 6, 4096);
      const { scans } = await slow.stepScanned([{ sequence: s, tokens: p }], { ahead: true });
      expect(slow.sequenceLength(s)).toBe(30); // while (or after) the step ahead runs
      await slow.stepScanned([{ sequence: s, tokens: [scans[0]![0]!.argmax] }], { ahead: true });
      await slow.takeBack();
      expect(slow.sequenceLength(s)).toBe(31);
      const [[got]] = await slow.step([{ sequence: s, tokens: [7] }]);
      await slow.step([{ sequence: ref, tokens: [...p, scans[0]![0]!.argmax] }]);
      const [[want]] = await slow.step([{ sequence: ref, tokens: [7] }]);
      expect(got).toEqual(want);
    } finally {
      slow.freeSequence(s);
      slow.freeSequence(ref);
    }
  });

  it('the native engine asks for steps ahead whatever its threads, even all the cores and more', async () => {
    const dir = await models.make({ preset: 'mixtral-tiny', seed: 36 });
    const cores = availableParallelism();
    for (const [threads, tp] of [[cores, 1], [1, 1], [cores + 1, 1], [1, 2]] as const) {
      const e = await Engine.load(dir, { threads, tp });
      expect({ threads, tp, runsAhead: e.runsAhead }).toEqual({ threads, tp, runsAhead: true });
      await e.close();
    }
  });

  it('refuses draws that do not match the sequences, before stepping', async () => {
    const s = ring.createSequence();
    try {
      const two: AheadDraw[] = [GREEDY, GREEDY];
      await expect(ring.step([{ sequence: s, tokens: [5, 6] }], { ahead: two })).rejects.toThrow(/one draw for each sequence/);
      await expect(ring.step([{ sequence: s, tokens: [5, 6] }], { ahead: [7 as unknown as AheadDraw] })).rejects.toThrow(/must be objects/);
      expect(ring.sequenceLength(s)).toBe(0);
      await ring.step([{ sequence: s, tokens: [5, 6] }], { ahead: [GREEDY] });
      expect(ring.sequenceLength(s)).toBe(2); // the step ahead taken back
    } finally {
      ring.freeSequence(s);
    }
  });

  it('an engine without a step thread of its own (WASM) ignores ahead', async () => {
    const wasm = await Engine.load(await models.make({ preset: 'mixtral-tiny', seed: 35 }), { backend: 'wasm' });
    try {
      expect(wasm.runsAhead).toBe(false);
      const log: FedLog = { fed: [], fedAhead: [] };
      expect(await decode(wasm, prompts, 6, greedy, { ahead: true }, undefined, log)).toEqual(await decode(wasm, prompts, 6, greedy));
      expect(new Set(log.fedAhead)).toEqual(new Set([-1]));
      expect(counts(wasm)).toEqual({ ahead: 0, back: 0 });
    } finally {
      await wasm.close();
    }
  });

  it('a step ahead that runs out of K/V fails the step() that asks for it, as that step alone would', async () => {
    // Two blocks of 16 slots: a 32-token prompt fills them, the step after needs a third.
    const small = await Engine.load(await models.make({ preset: 'mixtral-tiny', seed: 34, window: null }), { kvMaxBlocks: 2 });
    try {
      const s = small.createSequence();
      const { scans } = await small.stepScanned([{ sequence: s, tokens: prompt(32, 7, V) }], { ahead: true });
      const next = [{ sequence: s, tokens: [scans[0]![0]!.argmax] }];
      await expect(small.step(next, { ahead: true })).rejects.toBeInstanceOf(KvCacheExhausted);
      expect(small.sequenceLength(s)).toBe(32);
      expect(small.truncateSequence(s, 31)).toBe(true);
      const [[again]] = await small.step([{ sequence: s, tokens: [5] }]);
      expect(again!.every(Number.isFinite)).toBe(true);
      expect(small.info().aheadAnswered).toBe(0); // the failed step ran again, and failed again
    } finally {
      await small.close();
    }
  });
});
