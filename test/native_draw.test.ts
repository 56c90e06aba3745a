// The engine's draw of a sampled token (Engine.drawToken: engine_logits_sample in C++, in the
// addon and in WASM), which the node samples with: the token the JavaScript sampler draws from
// the same seed, for every filter — plain temperature, top_k, top_p, min_p — over ties, ±0,
// forbidden (-Infinity) tokens, small and large vocabularies; one draw of the generator a
// token either way, so a seeded sequence continues the same. A batch's draws in one call
// (Engine.drawTokens, on the engine's idle threads) are each row's own. The engine's logprobs
// (Engine.logprobs) are the JavaScript ones': the same best tokens, the same values to ~1e-12.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Engine } from '../src/engine/engine.ts';
import type { TokenDraw } from '../src/engine/native.ts';
import { planSample, sample, sampledWith, SeededRandom, type NativeDraw, type NativeLogprobs } from '../src/node/sampler.ts';
import { TempModels } from './helpers/models.ts';
import { samplingCase } from './helpers/sampling_cases.ts';

const models = new TempModels();
const engines: [string, Engine][] = [];
beforeAll(async () => {
  const dir = await models.make({ preset: 'mistral-tiny', seed: 3 });
  for (const backend of ['native', 'wasm'] as const) engines.push([backend, await Engine.load(dir, { backend })]);
});
afterAll(async () => {
  for (const [, e] of engines) await e.close();
  models.cleanup();
});

describe("the engine's token draw", () => {
  it('draws what the JavaScript sampler draws from the same seed, whatever the filters', () => {
    for (const [backend, e] of engines) {
      const native: NativeDraw = (row, d) => e.drawToken(row, d);
      let plain = 0;
      for (let c = 0; c < 160; c++) {
        const { v, p } = samplingCase(c, 2000 + c);
        plain += p.topP >= 1 && p.topK === 0 && p.minP === 0 ? 1 : 0;
        const js = new SeededRandom(c), eng = new SeededRandom(c);
        const want = Array.from({ length: 4 }, () => sample(v, p, js).token);
        const got = Array.from({ length: 4 }, () => sample(v, p, eng, v, undefined, native).token);
        expect(got, `${backend}, case ${c}`).toEqual(want);
        expect(eng.next(), `${backend}, case ${c}: one draw of the generator a token`).toBe(js.next());
      }
      expect(plain, 'some cases at plain temperature').toBeGreaterThan(8);
    }
  });

  it('passes over NaN logits as the JavaScript sampler does, top_k included (its one-pass selection)', () => {
    for (const [backend, e] of engines) {
      const native: NativeDraw = (row, d) => e.drawToken(row, d);
      for (let c = 0; c < 48; c++) {
        const { v } = samplingCase(c, 3000 + c);
        for (let i = 2 + (c % 5); i < v.length; i += 9) v[i] = NaN; // never index 0: the argmax scan starts there
        const p = { ...samplingCase(c, 0).p, topK: [40, 3, 256, 0][c % 4]!, topP: [1, 0.9][(c >> 2) % 2]! };
        for (let k = 0; k < 4; k++) {
          const want = sample(v, p, new SeededRandom(c * 4 + k)).token;
          expect(sample(v, p, new SeededRandom(c * 4 + k), v, undefined, native).token, `${backend}, case ${c}`).toBe(want);
          expect(Number.isNaN(v[want]!), `case ${c}: a NaN's token drawn`).toBe(false);
        }
      }
    }
  });

  it("draws a batch's rows in one call, each the token it draws alone, with sample()'s generator draws", async () => {
    for (const [backend, e] of engines) {
      const native: NativeDraw = (row, d) => e.drawToken(row, d);
      const rows: Float32Array[] = [], draws: TokenDraw[] = [], want: number[] = [];
      for (let c = 0; c < 48; c++) {
        const { v, p } = samplingCase(c, 5000 + c);
        const planned = planSample(v, p, new SeededRandom(c));
        const alone = sample(v, p, new SeededRandom(c), v, undefined, native).token;
        if (typeof planned === 'number') {
          expect(planned, `${backend}, case ${c}`).toBe(alone);
          continue;
        }
        rows.push(v), draws.push(planned), want.push(alone);
      }
      expect(rows.length, 'most cases draw').toBeGreaterThan(40);
      expect([...e.drawTokens(rows, draws)], backend).toEqual(want);
      // While a step runs (its threads busy), on the calling thread: the same tokens.
      const s = e.createSequence();
      const stepping = e.step([{ sequence: s, tokens: [1, 2, 3] }]);
      expect([...e.drawTokens(rows, draws)], `${backend}, during a step`).toEqual(want);
      await stepping;
      e.freeSequence(s);
      expect([...e.drawTokens([], [])]).toEqual([]);
    }
  });

  it('plans a greedy row as its argmax, and gives logprobs of the raw row once drawn', () => {
    const raw = Float32Array.of(0, 2, 1), p = { temperature: 0, topP: 1, topK: 0, minP: 0, logprobs: true, topLogprobs: 2 };
    const r = new SeededRandom(1);
    expect(planSample(raw, p, r)).toBe(1);
    expect(r.next(), 'no generator draw at temperature 0').toBe(new SeededRandom(1).next());
    const s = sampledWith(2, p, raw);
    expect(s.token).toBe(2);
    expect(s.logprob).toBeCloseTo(1 - Math.log(1 + Math.exp(2) + Math.exp(1)), 6);
    expect(s.top.map((t) => t.token)).toEqual([1, 2]);
  });

  it("gives the JavaScript sampler's logprobs: the same best tokens (ties to the lower id), values to ~1e-12", () => {
    for (const [backend, e] of engines) {
      const native: NativeLogprobs = (raw, n) => e.logprobs(raw, n);
      for (let c = 0; c < 64; c++) {
        const { v } = samplingCase(c, 7000 + c);
        for (const topLogprobs of [0, 1, 5, 20]) {
          const p = { temperature: 1, topP: 1, topK: 0, minP: 0, logprobs: true, topLogprobs };
          const token = c % v.length;
          const want = sampledWith(token, p, v), got = sampledWith(token, p, v, native);
          const where = `${backend}, case ${c}, top ${topLogprobs}`;
          expect(got.top.map((t) => t.token), where).toEqual(want.top.map((t) => t.token));
          // (a forbidden token's logprob is −∞ in both)
          const near = (a: number, b: number) => a === b || Math.abs(a - b) < 1e-12 * Math.max(1, Math.abs(b));
          expect(near(got.logprob!, want.logprob!), `${where}: ${got.logprob} against ${want.logprob}`).toBe(true);
          got.top.forEach((t, i) => expect(near(t.logprob, want.top[i]!.logprob), `${where}, #${i}: ${t.logprob} against ${want.top[i]!.logprob}`).toBe(true));
        }
      }
      expect(e.logprobs(Float32Array.of(1, 1, 1), 5).top, `${backend}: no more than the row`).toEqual(Int32Array.of(0, 1, 2));
      expect(() => e.logprobs(Float32Array.of(1), -1), backend).toThrow(/topN/);
    }
  });

  it("gives a batch's logprobs in one call, each row's own, during a step too", async () => {
    for (const [backend, e] of engines) {
      const rows = Array.from({ length: 24 }, (_, c) => samplingCase(c, 9000 + c).v);
      const tops = rows.map((_, c) => [0, 1, 5, 20][c % 4]!);
      const want = rows.map((row, i) => e.logprobs(row, tops[i]!));
      expect(e.logprobsRows(rows, tops), backend).toEqual(want);
      const s = e.createSequence();
      const stepping = e.step([{ sequence: s, tokens: [4, 5, 6] }]);
      expect(e.logprobsRows(rows, tops), `${backend}, during a step`).toEqual(want);
      await stepping;
      e.freeSequence(s);
      expect(() => e.logprobsRows(rows, []), backend).toThrow(/one length/);
    }
  });

  it('draws with the softmax probabilities', () => {
    const two = Float32Array.from([0, Math.log(3)]); // p = 1/4, 3/4
    for (const [backend, e] of engines) {
      const r = new SeededRandom(9);
      let ones = 0;
      for (let i = 0; i < 4000; i++) ones += e.drawToken(two, { temperature: 1, topK: 0, topP: 1, minP: 0, u: r.next(), best: 1 });
      expect(ones / 4000, backend).toBeGreaterThan(0.72);
      expect(ones / 4000, backend).toBeLessThan(0.78);
    }
  });

  it('refuses a best that is no index of the row, and rows without their draws', () => {
    const draw = { temperature: 1, topK: 0, topP: 1, minP: 0, u: 0.5, best: 2 };
    for (const [backend, e] of engines) {
      expect(() => e.drawToken(Float32Array.of(1, 2), draw), backend).toThrow(/best is not an index/);
      expect(() => e.drawTokens([Float32Array.of(1, 2, 3), Float32Array.of(1, 2)], [draw, draw]), backend).toThrow(/best is not an index/);
      expect(() => e.drawTokens([Float32Array.of(1, 2, 3)], []), backend).toThrow(/one length/);
    }
  });
});
