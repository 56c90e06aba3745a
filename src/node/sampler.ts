// Picks the next token from a logits vector: greedy at temperature 0, else temperature,
// min-p, top-k and top-p (nucleus) sampling from a seeded generator, so one seed gives one
// output. The logits come already reshaped by the request's logit rules (logit_rules.ts);
// logprobs are those of the model's own distribution (softmax of the raw logits).
import { Sfc32 } from './prng.ts';
import { argmax } from '../engine/greedy.ts';
import type { RowLogprobs, TokenDraw } from '../engine/native.ts';

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

// Where a sampler takes its uniform numbers in [0, 1) from.
export type Uniforms = { next(): number };

// Uniform draws in [0, 1) fully determined by a seed (up to 2^53), from the project's sfc32.
export class SeededRandom implements Uniforms {
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

// Scratch kept between calls (sampling is synchronous): the candidates, their sort keys and
// their weights. Fresh arrays a token — a 256 KB Float64Array, or JavaScript arrays grown by
// push and map over 32,000 candidates — had cost more than the arithmetic: a top_p draw over
// a flat 32,000-token distribution took ~17 ms, ~1 ms at plain temperature.
let ids = new Int32Array(0);
let idsTmp = new Int32Array(0);
let ranks = new Uint32Array(0);
let ranksTmp = new Uint32Array(0);
let weights = new Float64Array(0);
let sums = new Float64Array(0);
const digitCounts = new Uint32Array(65537);
function reserve(n: number): void {
  if (ids.length >= n) return;
  [ids, idsTmp, ranks, ranksTmp, weights] = [new Int32Array(n), new Int32Array(n), new Uint32Array(n), new Uint32Array(n), new Float64Array(n)];
  sums = new Float64Array(Math.ceil(n / BLOCK));
}

// The draw's sums, by blocks of BLOCK weights in the order they are drawn in: a block's sum is
// 8 lanes — lane m adds w[8t + m] of it, t ascending — added ((0+1)+(2+3))+((4+5)+(6+7)); a
// total adds the blocks' sums in order; a draw subtracts whole blocks while its remainder is
// at least the block's sum, then the block's weights one by one. So native code sums with
// vectors and skips blocks (logits_sample.cpp), and draws the same tokens.
const BLOCK = 64;
const lanes = new Float64Array(8);

// sums[b] for the blocks of weights[0, n) from firstBlock on.
function blockSums(n: number, firstBlock = 0): void {
  for (let b = firstBlock; b * BLOCK < n; b++) {
    lanes.fill(0);
    for (let i = b * BLOCK, end = Math.min(n, i + BLOCK), m = 0; i < end; i++, m = (m + 1) % 8) lanes[m]! += weights[i]!;
    sums[b] = lanes[0]! + lanes[1]! + (lanes[2]! + lanes[3]!) + (lanes[4]! + lanes[5]! + (lanes[6]! + lanes[7]!));
  }
}

function blocksTotal(n: number): number {
  let total = 0;
  for (let b = 0; b * BLOCK < n; b++) total += sums[b]!;
  return total;
}

// The first k at which r, less weights[0], weights[1], … in turn, falls below 0 (whole blocks
// skipped, as above); -1 if it never does.
function pickInBlocks(n: number, r: number): number {
  for (let b = 0; b * BLOCK < n; b++) {
    if (r >= sums[b]!) {
      r -= sums[b]!;
      continue;
    }
    for (let k = b * BLOCK, end = Math.min(n, k + BLOCK); k < end; k++) {
      r -= weights[k]!;
      if (r < 0) return k;
    }
  }
  return -1;
}

// How many of weights[0, n) (best first) the smallest prefix whose mass reaches topP · total
// holds, by blocks too: a block whose sum keeps the mass under it is taken whole.
function topPKeep(n: number, topP: number, total: number): number {
  const target = topP * total;
  let mass = 0;
  let keep = 0;
  for (let b = 0; b * BLOCK < n && mass < target; b++) {
    const end = Math.min(n, (b + 1) * BLOCK);
    if (mass + sums[b]! < target) {
      mass += sums[b]!;
      keep = end;
      continue;
    }
    while (keep < end && mass < target) mass += weights[keep++]!;
  }
  return keep;
}

// Plain temperature sampling needs no sort: one pass over the vocabulary in id order.
function sampleFull(logits: Float32Array, maxLogit: number, temperature: number, u: () => number): number {
  reserve(logits.length);
  for (let i = 0; i < logits.length; i++) weights[i] = Math.exp((logits[i]! - maxLogit) / temperature);
  blockSums(logits.length);
  const k = pickInBlocks(logits.length, u() * blocksTotal(logits.length));
  return k >= 0 ? k : argmax(logits);
}

// ids[0, n) (ascending) best first: larger logit, then lower id — a comparator sort's order,
// by a stable radix sort on each logit's rank (its float32 bits made monotone, then reversed),
// two passes of 16 bits. A comparator took 11–21 ms for 32,000 candidates; the whole top_p
// draw takes ~1.1 ms now. -0 ranks as +0, as comparing the two does. Few candidates take the
// comparator.
const f32 = new Float32Array(1);
const u32 = new Uint32Array(f32.buffer);
function sortBestFirst(logits: Float32Array, n: number): void {
  if (n < 2048) {
    ids.subarray(0, n).sort((x, y) => logits[y]! - logits[x]! || x - y);
    return;
  }
  for (let k = 0; k < n; k++) {
    const l = logits[ids[k]!]!;
    f32[0] = l === 0 ? 0 : l;
    const bits = u32[0]!;
    ranks[k] = bits & 0x80000000 ? bits : ~bits & 0x7fffffff; // descends as the float ascends
  }
  radixPass(ranks, ids, ranksTmp, idsTmp, n, 0);
  radixPass(ranksTmp, idsTmp, ranks, ids, n, 16);
}

// One stable counting pass on the 16-bit digit at `shift`.
function radixPass(fromRank: Uint32Array, fromId: Int32Array, toRank: Uint32Array, toId: Int32Array, n: number, shift: number): void {
  const counts = digitCounts.fill(0);
  for (let k = 0; k < n; k++) counts[((fromRank[k]! >>> shift) & 0xffff) + 1]!++;
  for (let d = 1; d <= 65536; d++) counts[d]! += counts[d - 1]!;
  for (let k = 0; k < n; k++) {
    const at = counts[(fromRank[k]! >>> shift) & 0xffff]!++;
    toRank[at] = fromRank[k]!;
    toId[at] = fromId[k]!;
  }
}

// The same draw in native code (Engine.drawToken), which the node passes in (a 32,768-logit
// row on one Zen 4 thread: ~0.06 ms at plain temperature, ~0.02 with top_k 40, ~0.3 with
// top_p alone, which sorts every candidate).
export type NativeDraw = (logits: Float32Array, draw: TokenDraw) => number;

// best: argmax(logits). One draw of `random` whenever temperature > 0 and a token has a
// finite logit, whichever code draws.
function sampleToken(logits: Float32Array, p: SamplingParams, random: Uniforms, best: number, native?: NativeDraw): number {
  const planned = planToken(logits, p, random, best);
  return typeof planned === 'number' ? planned : native ? native(logits, planned) : drawHere(logits, p, () => planned.u, best);
}

// A row's token, or the draw that picks it where native code can (temperature > 0 and the
// largest logit finite), its uniform number already taken from `random`.
function planToken(logits: Float32Array, p: SamplingParams, random: Uniforms, best: number): number | TokenDraw {
  if (p.temperature === 0) return best;
  const maxLogit = logits[best]!;
  if (!Number.isFinite(maxLogit)) return drawHere(logits, p, () => random.next(), best);
  return { temperature: p.temperature, topK: p.topK, topP: p.topP, minP: p.minP, u: random.next(), best };
}

// The draw in JavaScript; u() the generator's draw for it, taken where a token is drawn (not
// when no logit is finite and a filter leaves none).
function drawHere(logits: Float32Array, p: SamplingParams, u: () => number, best: number): number {
  const maxLogit = logits[best]!;
  if (p.topK === 0 && p.topP >= 1 && p.minP === 0) return sampleFull(logits, maxLogit, p.temperature, u);
  // min-p as vLLM applies it: on the tempered distribution, before top-k and top-p.
  // p_i ≥ minP · p_max  ⟺  (l_i − l_max) / T ≥ ln(minP).
  const minGap = p.minP > 0 ? Math.log(p.minP) : -Infinity;
  reserve(logits.length);
  let n = 0;
  for (let i = 0; i < logits.length; i++) {
    const gap = (logits[i]! - maxLogit) / p.temperature;
    if (gap > -NEGLIGIBLE_LOGIT_GAP && gap >= minGap) ids[n++] = i;
  }
  if (n === 0) return best; // every logit -Infinity (rules forbade them all)
  sortBestFirst(logits, n);
  if (p.topK > 0 && n > p.topK) n = p.topK;
  for (let k = 0; k < n; k++) weights[k] = Math.exp((logits[ids[k]!]! - maxLogit) / p.temperature);
  blockSums(n);
  let total = blocksTotal(n);
  if (p.topP < 1) {
    // Smallest prefix (by probability) whose mass reaches top_p.
    n = Math.max(1, topPKeep(n, p.topP, total));
    blockSums(n, Math.floor(n / BLOCK)); // the last block, if cut
    total = blocksTotal(n);
  }
  const k = pickInBlocks(n, u() * total);
  return ids[k >= 0 ? k : n - 1]!;
}

// The argmax sample() starts from: the caller's, when it is of the row sampled.
const bestOf = (logits: Float32Array, raw: Float32Array, rawArgmax: number | undefined) =>
  logits === raw && rawArgmax !== undefined ? rawArgmax : argmax(logits);

// `logits`: what to sample from; `raw`: the model's own logits, for logprobs (the same
// array when no logit rule applied); rawArgmax: argmax(raw) when the caller has it (the
// engine's RowScan), used when logits is raw; native: the engine's draw.
export function sample(
  logits: Float32Array,
  params: SamplingParams,
  random: SeededRandom,
  raw: Float32Array = logits,
  rawArgmax?: number,
  native?: NativeDraw,
): Sampled {
  return sampledWith(sampleToken(logits, params, random, bestOf(logits, raw, rawArgmax), native), params, raw);
}

// sample() in two halves, for a batch of rows whose draws the engine makes in one call
// (Engine.drawTokens): the row's token, or its draw for the engine; then sampledWith(token).
// The same tokens as sample() with a native draw, the generator drawn the same.
export function planSample(logits: Float32Array, params: SamplingParams, random: Uniforms, raw: Float32Array = logits, rawArgmax?: number): number | TokenDraw {
  return planToken(logits, params, random, bestOf(logits, raw, rawArgmax));
}

// A row's log-sum-exp and best indices in native code (Engine.logprobs), which the node passes
// in: ~0.8 ms a 32,000-logit row in JavaScript.
export type NativeLogprobs = (raw: Float32Array, topN: number) => RowLogprobs;

// The token as sampled, with its logprobs (of raw) when the params ask for them.
export function sampledWith(token: number, params: SamplingParams, raw: Float32Array, native?: NativeLogprobs): Sampled {
  if (!params.logprobs) return { token, logprob: null, top: [] };
  if (native) {
    const { lse, top } = native(raw, params.topLogprobs);
    return { token, logprob: raw[token]! - lse, top: Array.from(top, (t) => ({ token: t, logprob: raw[t]! - lse })) };
  }
  const lse = logSumExp(raw);
  return { token, logprob: raw[token]! - lse, top: topLogprobs(raw, params.topLogprobs, lse) };
}
