// Logits and filters that exercise a sampler's corners: case c of a seeded family — many ties,
// ±0, forbidden (-Infinity) tokens, vocabularies of 3 to 32,000, every filter and temperature
// (node_sampling.test.ts against a plain reference, native_draw.test.ts against the sampler).
import { SeededRandom, type SamplingParams } from '../../src/node/sampler.ts';

export const samplingParams = (p: Partial<SamplingParams>): SamplingParams => ({ temperature: 1, topP: 1, topK: 0, minP: 0, logprobs: false, topLogprobs: 0, ...p });

export function samplingCase(c: number, seed: number): { v: Float32Array; p: SamplingParams } {
  const r = new SeededRandom(seed);
  const V = c % 2 ? 32000 : 3 + ((c * 37) % 3000);
  const v = Float32Array.from({ length: V }, () => Math.round((r.next() - 0.5) * (c % 3 ? 20 : 4) * 4) / 4); // many ties
  if (c % 5 === 0) for (let i = 0; i < V; i += 7) v[i] = -0;
  if (c % 7 === 0) for (let i = 1; i < V; i += 11) v[i] = -Infinity;
  const p = samplingParams({ temperature: [0.3, 0.7, 1, 1.5][c % 4]!, topP: [0.95, 0.9, 0.5, 1][(c >> 2) % 4]!, topK: [0, 40, 0, 5000][(c >> 4) % 4]!, minP: [0, 0.05][(c >> 6) % 2]! });
  return { v, p };
}
