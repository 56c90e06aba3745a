// The engine's draw of a sampled token (Engine.drawToken: engine_logits_sample in C++, in the
// addon and in WASM), which the node samples with: the token the JavaScript sampler draws from
// the same seed, for every filter — plain temperature, top_k, top_p, min_p — over ties, ±0,
// forbidden (-Infinity) tokens, small and large vocabularies; one draw of the generator a
// token either way, so a seeded sequence continues the same.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Engine } from '../src/engine/engine.ts';
import { sample, SeededRandom, type NativeDraw } from '../src/node/sampler.ts';
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
