// The engine's draw of a sampled token (Engine.drawToken: engine_logits_sample in C++, in the
// addon and in WASM), which the node samples with: the token the JavaScript sampler draws from
// the same seed, for every filter — plain temperature, top_k, top_p, min_p — over ties, ±0,
// forbidden (-Infinity) tokens, small and large vocabularies; one draw of the generator a
// token either way, so a seeded sequence continues the same. A batch's draws in one call
// (Engine.drawTokens, on the engine's idle threads) are each row's own.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Engine } from '../src/engine/engine.ts';
import type { TokenDraw } from '../src/engine/native.ts';
import { planSample, sample, sampledWith, SeededRandom, type NativeDraw } from '../src/node/sampler.ts';
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
