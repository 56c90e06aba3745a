// The engine's draw of a sampled token (Engine.drawToken: engine_logits_sample in C++, in the
// addon and in WASM), which the node samples with: the token the JavaScript sampler draws from
// the same seed, for every filter — plain temperature, top_k, top_p, min_p — over ties, ±0,
// forbidden (-Infinity) tokens, small and large vocabularies; one draw of the generator a
// token either way, so a seeded sequence continues the same.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Engine } from '../src/engine/engine.ts';
import { sample, SeededRandom, type NativeDraw, type SamplingParams } from '../src/node/sampler.ts';
import { TempModels } from './helpers/models.ts';

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

const params = (p: Partial<SamplingParams>): SamplingParams => ({ temperature: 1, topP: 1, topK: 0, minP: 0, logprobs: false, topLogprobs: 0, ...p });

// Case c's logits and filters (as node_sampling.test.ts's reference cases, plain temperature too).
function drawCase(c: number): { v: Float32Array; p: SamplingParams } {
  const r = new SeededRandom(2000 + c);
  const V = c % 2 ? 32000 : 3 + ((c * 37) % 3000);
  const v = Float32Array.from({ length: V }, () => Math.round((r.next() - 0.5) * (c % 3 ? 20 : 4) * 4) / 4); // many ties
  if (c % 5 === 0) for (let i = 0; i < V; i += 7) v[i] = -0;
  if (c % 7 === 0) for (let i = 1; i < V; i += 11) v[i] = -Infinity;
  const p = params({ temperature: [0.3, 0.7, 1, 1.5][c % 4]!, topP: [0.95, 0.9, 0.5, 1][(c >> 2) % 4]!, topK: [0, 40, 0, 5000][(c >> 4) % 4]!, minP: [0, 0.05][(c >> 6) % 2]! });
  return { v, p };
}

describe("the engine's token draw", () => {
  it('draws what the JavaScript sampler draws from the same seed, whatever the filters', () => {
    for (const [backend, e] of engines) {
      const native: NativeDraw = (row, d) => e.drawToken(row, d);
      let plain = 0;
      for (let c = 0; c < 160; c++) {
        const { v, p } = drawCase(c);
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

  it('refuses a best that is no index of the row', () => {
    for (const [backend, e] of engines)
      expect(() => e.drawToken(Float32Array.of(1, 2), { temperature: 1, topK: 0, topP: 1, minP: 0, u: 0.5, best: 2 }), backend).toThrow(/best is not an index/);
  });
});
