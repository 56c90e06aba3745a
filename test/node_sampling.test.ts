// Sampling and step planning: the node's pure logic, tested in-process.
import { describe, expect, it } from 'vitest';
import { LogitRules, NEUTRAL_LOGIT_RULES, type LogitRuleParams } from '../src/node/logit_rules.ts';
import { sample, SeededRandom, type SamplingParams } from '../src/node/sampler.ts';
import { planStep } from '../src/node/scheduler.ts';
import { samplingCase, samplingParams as params } from './helpers/sampling_cases.ts';

// The sampler's definition for top-k / top-p / min-p, written plainly: candidates within the
// negligible gap and min-p, sorted best first by comparison (ties to the lower id), cut to
// top-k, weighed, cut to the smallest prefix reaching top-p, drawn in that order.
function referenceCandidates(logits: Float32Array, p: SamplingParams): { ids: number[]; max: number } {
  let best = 0;
  for (let i = 1; i < logits.length; i++) if (logits[i]! > logits[best]!) best = i;
  const max = logits[best]!, minGap = p.minP > 0 ? Math.log(p.minP) : -Infinity;
  const ids: number[] = [];
  for (let i = 0; i < logits.length; i++) {
    const gap = (logits[i]! - max) / p.temperature;
    if (gap > -30 && gap >= minGap) ids.push(i);
  }
  return { ids, max };
}

function referenceToken(logits: Float32Array, p: SamplingParams, random: SeededRandom): number {
  const { ids: candidates, max } = referenceCandidates(logits, p);
  let ids = candidates;
  ids.sort((x, y) => logits[y]! - logits[x]! || x - y);
  if (p.topK > 0) ids = ids.slice(0, p.topK);
  let weights = ids.map((i) => Math.exp((logits[i]! - max) / p.temperature));
  let total = weights.reduce((s, w) => s + w, 0);
  if (p.topP < 1) {
    let mass = 0, keep = 0;
    while (keep < weights.length && mass < p.topP * total) mass += weights[keep++]!;
    ids = ids.slice(0, Math.max(1, keep));
    weights = weights.slice(0, ids.length);
    total = weights.reduce((s, w) => s + w, 0);
  }
  let r = random.next() * total;
  for (let k = 0; k < ids.length; k++) if ((r -= weights[k]!) < 0) return ids[k]!;
  return ids.at(-1)!;
}

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

  // The sampler sorts its candidates with a radix sort over typed arrays (a comparator sort of
  // 32,000 took 11–21 ms a token): the draws must be those of the plain definition below, for
  // ties, ±0, forbidden (-Infinity) tokens, small and large vocabularies, every filter.
  it('draws exactly what a comparator-sorted reference draws, whatever the filters', () => {
    let cases = 0, radix = 0;
    for (let c = 0; c < 160; c++) {
      const { v, p } = samplingCase(c, 1000 + c);
      if (p.topP >= 1 && p.topK === 0 && p.minP === 0) p.topP = 0.99;
      for (let s = 0; s < 4; s++, cases++) expect(sample(v, p, new SeededRandom(c * 10 + s)).token, `case ${c}, seed ${s}`).toBe(referenceToken(v, p, new SeededRandom(c * 10 + s)));
      radix += referenceCandidates(v, p).ids.length >= 2048 ? 1 : 0;
    }
    expect(cases).toBe(640);
    expect(radix, 'some cases take the radix sort (2,048 candidates or more)').toBeGreaterThan(20);
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

describe('min_p', () => {
  const logits = Float32Array.from([0, Math.log(0.5), Math.log(0.2), Math.log(0.05)]); // p ∝ 1, .5, .2, .05

  it('keeps only tokens at least min_p times as likely as the best, after temperature', () => {
    const seen = (minP: number, temperature = 1) => {
      const r = new SeededRandom(3);
      return new Set(Array.from({ length: 2000 }, () => sample(logits, params({ minP, temperature }), r).token));
    };
    expect([...seen(0.3)].sort()).toEqual([0, 1]);
    expect([...seen(0.1)].sort()).toEqual([0, 1, 2]);
    expect([...seen(1)]).toEqual([0]);
    // At temperature 2 the ratios are square roots: 0.2 → 0.447 passes min_p 0.3.
    expect([...seen(0.3, 2)].sort()).toEqual([0, 1, 2]);
  });
});

describe('logit rules', () => {
  const rules = (p: Partial<LogitRuleParams>, prompt: number[] = [], ends: number[] = []) =>
    new LogitRules({ ...NEUTRAL_LOGIT_RULES, ...p }, prompt, ends);
  const base = Float32Array.from([2, -1, 0.5, 4, 3]);

  it('leaves the logits alone (no copy) when every rule is neutral', () => {
    const r = rules({});
    r.observe(3);
    expect(r.apply(base)).toBe(base);
  });

  it('frequency and presence penalties follow OpenAI: count × frequency + presence, over generated tokens only', () => {
    const r = rules({ frequencyPenalty: 0.5, presencePenalty: 0.25 }, [0, 1]);
    expect([...r.apply(base)]).toEqual([...base]);
    for (const t of [3, 3, 4]) r.observe(t);
    const out = r.apply(base);
    expect(out[0]).toBe(2); // in the prompt only: untouched
    expect(out[3]).toBeCloseTo(4 - 2 * 0.5 - 0.25);
    expect(out[4]).toBeCloseTo(3 - 0.5 - 0.25);
    expect(base[3]).toBe(4); // the engine's row is never changed
  });

  it('repetition penalty follows HF/vLLM: divides positive logits, multiplies negative ones, prompt and output', () => {
    const r = rules({ repetitionPenalty: 2 }, [0, 1]);
    r.observe(2);
    expect([...r.apply(base)]).toEqual([1, -2, 0.25, 4, 3]);
  });

  it('logit bias is added after the penalties, and min_tokens masks end tokens until reached', () => {
    const r = rules({ logitBias: [[1, 100], [3, -100]], frequencyPenalty: 1, minTokens: 2 }, [], [4]);
    r.observe(1);
    const out = r.apply(base);
    expect(out[1]).toBeCloseTo(-1 - 1 + 100);
    expect(out[3]).toBeCloseTo(-96);
    expect(out[4]).toBe(-Infinity);
    r.observe(1);
    expect(r.apply(base)[4]).toBe(3);
  });

  it('greedy honours the rules, and ids beyond the vocabulary are ignored', () => {
    const r = rules({ logitBias: [[1, 10], [99, 5]] });
    expect(sample(r.apply(base), params({ temperature: 0 }), new SeededRandom(1)).token).toBe(1);
  });

  it('logprobs stay those of the raw logits', () => {
    const r = rules({ logitBias: [[1, 10]] });
    const s = sample(r.apply(base), params({ temperature: 0, logprobs: true, topLogprobs: 1 }), new SeededRandom(1), base);
    expect(s.token).toBe(1);
    const lse = Math.log(base.reduce((a, v) => a + Math.exp(v), 0));
    expect(s.logprob).toBeCloseTo(-1 - lse, 5);
    expect(s.top[0]!.token).toBe(3);
  });

  it('seeded sampling with penalties repeats exactly', () => {
    const draw = () => {
      const r = new SeededRandom(11);
      const lr = rules({ frequencyPenalty: 0.7, presencePenalty: 0.3, repetitionPenalty: 1.2 }, [1, 2]);
      const logits = randomLogits(200, 4);
      return Array.from({ length: 40 }, () => {
        const t = sample(lr.apply(logits), params({ temperature: 0.8, topP: 0.95 }), r).token;
        lr.observe(t);
        return t;
      });
    };
    expect(draw()).toEqual(draw());
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
