// Sampling and step planning: the node's pure logic, tested in-process.
import { describe, expect, it } from 'vitest';
import { sample, SeededRandom, type SamplingParams } from '../src/node/sampler.ts';
import { planStep } from '../src/node/scheduler.ts';

const params = (p: Partial<SamplingParams>): SamplingParams => ({ temperature: 1, topP: 1, topK: 0, logprobs: false, topLogprobs: 0, ...p });

function randomLogits(n: number, seed: number): Float32Array {
  const r = new SeededRandom(seed);
  return Float32Array.from({ length: n }, () => (r.next() - 0.5) * 8);
}

describe('sampler', () => {
  const logits = randomLogits(1000, 1);
  const best = logits.indexOf(Math.max(...logits));

  it('temperature 0 is greedy, ties to the lowest id', () => {
    expect(sample(logits, params({ temperature: 0 }), new SeededRandom(1)).token).toBe(best);
    expect(sample(Float32Array.from([1, 3, 3, 2]), params({ temperature: 0 }), new SeededRandom(1)).token).toBe(1);
  });

  it('top_k 1 and a tiny top_p are greedy too', () => {
    for (let s = 0; s < 20; s++) {
      expect(sample(logits, params({ topK: 1 }), new SeededRandom(s)).token).toBe(best);
      expect(sample(logits, params({ topP: 1e-9 }), new SeededRandom(s)).token).toBe(best);
    }
  });

  it('one seed gives one sequence of samples; another seed another', () => {
    const draw = (seed: number) => {
      const r = new SeededRandom(seed);
      return Array.from({ length: 50 }, () => sample(logits, params({ temperature: 1.2, topP: 0.9, topK: 50 }), r).token);
    };
    expect(draw(42)).toEqual(draw(42));
    expect(draw(43)).not.toEqual(draw(42));
  });

  it('draws tokens with the softmax probabilities', () => {
    const two = Float32Array.from([0, Math.log(3)]); // p = 1/4, 3/4
    const r = new SeededRandom(9);
    let ones = 0;
    for (let i = 0; i < 4000; i++) ones += sample(two, params({}), r).token;
    expect(ones / 4000).toBeGreaterThan(0.72);
    expect(ones / 4000).toBeLessThan(0.78);
  });

  it('top_k and top_p never pick outside their set', () => {
    const sorted = [...logits.keys()].sort((a, b) => logits[b]! - logits[a]!);
    const r = new SeededRandom(5);
    for (let i = 0; i < 300; i++) expect(sorted.slice(0, 5)).toContain(sample(logits, params({ topK: 5 }), r).token);
  });

  it('logprobs are log-softmax of the raw logits, alternatives best first', () => {
    const s = sample(logits, params({ temperature: 0, logprobs: true, topLogprobs: 5 }), new SeededRandom(1));
    const lse = Math.log(logits.reduce((acc, v) => acc + Math.exp(v), 0));
    expect(s.logprob).toBeCloseTo(logits[best]! - lse, 4);
    expect(s.top).toHaveLength(5);
    expect(s.top[0]!.token).toBe(best);
    for (let i = 1; i < 5; i++) expect(s.top[i]!.logprob).toBeLessThanOrEqual(s.top[i - 1]!.logprob);
  });
});

describe('step planning', () => {
  it('decodes first, then prefills in chunks within the token budget', () => {
    const plan = planStep(
      [
        { id: 0, promptRemaining: 500 },
        { id: 1, promptRemaining: 0 },
        { id: 2, promptRemaining: 0 },
        { id: 3, promptRemaining: 40 },
      ],
      { maxTokens: 64, maxSequences: 8 },
    );
    expect(plan).toEqual([
      { id: 1, tokens: 1 },
      { id: 2, tokens: 1 },
      { id: 0, tokens: 62 },
    ]);
  });

  it('a long prompt never stalls decoding sequences', () => {
    const running = [{ id: 0, promptRemaining: 10_000 }, ...Array.from({ length: 3 }, (_, i) => ({ id: i + 1, promptRemaining: 0 }))];
    const plan = planStep(running, { maxTokens: 256, maxSequences: 16 });
    expect(plan.filter((p) => p.id > 0)).toHaveLength(3);
    expect(plan.reduce((s, p) => s + p.tokens, 0)).toBe(256);
  });

  it('respects the sequence limit', () => {
    const running = Array.from({ length: 10 }, (_, id) => ({ id, promptRemaining: 0 }));
    expect(planStep(running, { maxTokens: 256, maxSequences: 4 })).toHaveLength(4);
  });
});
