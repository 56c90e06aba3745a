// Picks the next token from a logits vector: greedy at temperature 0, else temperature,
// min-p, top-k and top-p (nucleus) sampling from a seeded generator, so one seed gives one
// output. The logits come already reshaped by the request's logit rules (logit_rules.ts);
// logprobs are those of the model's own distribution (softmax of the raw logits).
import { Sfc32 } from './prng.ts';
import { argmax } from '../engine/greedy.ts';

export type SamplingParams = {
  temperature: number; // 0 = greedy
  topP: number; // 1 = off
  topK: number; // 0 = off
  minP: number; // 0 = off; keeps tokens at least minP × the best one's probability
  topLogprobs: number; // alternatives to report, 0..20 (0 with logprobs = only the chosen token)
  logprobs: boolean;
};

export type TokenLogprob = { token: number; logprob: number };
export type Sampled = { token: number; logprob: number | null; top: TokenLogprob[] };

// Uniform draws in [0, 1) fully determined by a seed (up to 2^53), from the project's sfc32.
export class SeededRandom {
  private readonly bits: Sfc32;

  constructor(seed: number) {
    this.bits = new Sfc32(seed >>> 0, Math.floor(seed / 2 ** 32) >>> 0, 0x9e3779b9);
  }

  next(): number {
    return this.bits.next() / 4294967296;
  }
}

// Tokens whose probability is below e^-30 of the best one's cannot change a sample drawn with
// float64 arithmetic in any practical way, so they are dropped before sorting 32k logits.
const NEGLIGIBLE_LOGIT_GAP = 30;

function logSumExp(v: Float32Array): number {
  let max = -Infinity;
  for (const x of v) if (x > max) max = x;
  let sum = 0;
  for (const x of v) sum += Math.exp(x - max);
  return max + Math.log(sum);
}

function topLogprobs(logits: Float32Array, n: number, lse: number): TokenLogprob[] {
  if (n <= 0) return [];
  const best: number[] = [];
  for (let i = 0; i < logits.length; i++) {
    if (best.length < n || logits[i]! > logits[best[best.length - 1]!]!) {
      best.push(i);
      best.sort((x, y) => logits[y]! - logits[x]! || x - y);
      if (best.length > n) best.pop();
    }
  }
  return best.map((token) => ({ token, logprob: logits[token]! - lse }));
}

// Plain temperature sampling needs no sort: one pass over the vocabulary in id order.
function sampleFull(logits: Float32Array, maxLogit: number, temperature: number, random: SeededRandom): number {
  const weights = new Float64Array(logits.length);
  let total = 0;
  for (let i = 0; i < logits.length; i++) total += weights[i] = Math.exp((logits[i]! - maxLogit) / temperature);
  let r = random.next() * total;
  for (let i = 0; i < weights.length; i++) {
    r -= weights[i]!;
    if (r < 0) return i;
  }
  return argmax(logits);
}

function sampleToken(logits: Float32Array, p: SamplingParams, random: SeededRandom): number {
  if (p.temperature === 0) return argmax(logits);
  const maxLogit = logits[argmax(logits)]!;
  if (p.topK === 0 && p.topP >= 1 && p.minP === 0) return sampleFull(logits, maxLogit, p.temperature, random);
  // min-p as vLLM applies it: on the tempered distribution, before top-k and top-p.
  // p_i ≥ minP · p_max  ⟺  (l_i − l_max) / T ≥ ln(minP).
  const minGap = p.minP > 0 ? Math.log(p.minP) : -Infinity;
  let candidates: number[] = [];
  for (let i = 0; i < logits.length; i++) {
    const gap = (logits[i]! - maxLogit) / p.temperature;
    if (gap > -NEGLIGIBLE_LOGIT_GAP && gap >= minGap) candidates.push(i);
  }
  candidates.sort((x, y) => logits[y]! - logits[x]! || x - y);
  if (p.topK > 0 && candidates.length > p.topK) candidates = candidates.slice(0, p.topK);
  const weights = candidates.map((i) => Math.exp((logits[i]! - maxLogit) / p.temperature));
  let total = weights.reduce((s, w) => s + w, 0);
  if (p.topP < 1) {
    // Smallest prefix (by probability) whose mass reaches top_p.
    let mass = 0;
    let keep = 0;
    while (keep < weights.length && mass < p.topP * total) mass += weights[keep++]!;
    candidates = candidates.slice(0, Math.max(1, keep));
    weights.length = candidates.length;
    total = weights.reduce((s, w) => s + w, 0);
  }
  let r = random.next() * total;
  for (let i = 0; i < candidates.length; i++) {
    r -= weights[i]!;
    if (r < 0) return candidates[i]!;
  }
  return candidates[candidates.length - 1]!;
}

// `logits`: what to sample from; `raw`: the model's own logits, for logprobs (the same
// array when no logit rule applied).
export function sample(logits: Float32Array, params: SamplingParams, random: SeededRandom, raw: Float32Array = logits): Sampled {
  const token = sampleToken(logits, params, random);
  if (!params.logprobs) return { token, logprob: null, top: [] };
  const lse = logSumExp(raw);
  return { token, logprob: raw[token]! - lse, top: topLogprobs(raw, params.topLogprobs, lse) };
}
