// Runs greedy generation on the engine and checks every logits vector (after each prompt
// token and each generated one) against the float64 reference, within DESIGN.md tolerances.
import { expect } from 'vitest';
import type { Engine } from '../../src/engine/engine.ts';
import { generateGreedy, type GreedyCase } from '../../src/engine/generate.ts';
import type { KvDtype } from '../../src/engine/native.ts';
import { argmaxLowest, loadReferenceModel, referenceLogits, relativeError, type KvRounding, type ReferenceModel } from '../reference/forward64.ts';
import { roundActivations } from './quantized_reference.ts';

export const TOLERANCE = { f32: 1e-3, f16: 1e-2, bf16: 2e-2 } as const;

// A q8_0 K/V cache stores each head's key and value in blocks of 32 rounded as the integer
// kernels round activations (native/engine/dtype.h), blocks that never straddle two heads
// (head_dim is a multiple of 32); f16 rounding stays within the tolerances unmodelled.
const KV_ROUNDING: Partial<Record<KvDtype, KvRounding>> = { q8_0: roundActivations };

// Reference logits per (model, token sequence, K/V rounding), so chunk-size sweeps compute them once.
const cache = new Map<string, Float64Array[]>();
const models = new Map<string, ReferenceModel>();

export function referenceFor(dir: string, tokens: number[], kvDtype?: KvDtype): Float64Array[] {
  const kvRound = kvDtype && KV_ROUNDING[kvDtype];
  const key = `${dir}|${kvRound ? kvDtype : ''}|${tokens.join(',')}`;
  let logits = cache.get(key);
  if (!logits) {
    let model = models.get(dir);
    if (!model) models.set(dir, (model = loadReferenceModel(dir)));
    logits = referenceLogits(model, tokens, kvRound);
    cache.set(key, logits);
  }
  return logits;
}

// Greedy picks must equal the reference's unless the reference's top two are closer than the
// tolerance allows to tell apart (then either is a correct greedy choice).
export function expectGreedyMatches(ref: Float64Array, chosen: number, tol: number): void {
  const best = argmaxLowest(ref);
  if (chosen === best) return;
  const scale = Math.max(...Array.from(ref, Math.abs));
  expect(ref[best]! - ref[chosen]!, `greedy token ${chosen} vs reference ${best}`).toBeLessThanOrEqual(2 * tol * scale);
}

// Two computations that round to int8 blocks (activations, or q8_0 K/V) agree to float
// rounding (~1e-7) on almost every vector; but rounding is a step function, and where the two
// differ by float rounding right at a step boundary one takes the next int8 step (a "flip"),
// moving that vector, and later ones through the K/V cache, by up to `flipTol`. So: two
// thirds within `tol`, all within `flipTol`. A bug (scale, block, rounding rule, lane, a row
// left unrounded) moves them all (quantization.test.ts measures both).
export function expectAgreeUpToFlips(errors: number[], tol: number, flipTol: number): void {
  expect(errors.filter((e) => e <= tol).length, `vectors within ${tol}`).toBeGreaterThanOrEqual((2 / 3) * errors.length);
  expect(Math.max(...errors)).toBeLessThanOrEqual(flipTol);
}

// q8_0 K/V against the reference that rounds its keys and values the same way: flips move
// vectors by up to ~2e-3 here, so every one within DESIGN.md's f16 tolerance (the engine
// against the unrounded reference sits at ~5e-3).
const KV_FLIP_TOL = 1e-2;

export function expectCaseMatchesReference(dir: string, c: GreedyCase, tol: number, kvDtype?: KvDtype): number {
  const tokens = [...c.promptTokens, ...c.generated.slice(0, -1)];
  const ref = referenceFor(dir, tokens, kvDtype);
  const flips = kvDtype !== undefined && KV_ROUNDING[kvDtype] !== undefined;
  const flipTol = Math.max(KV_FLIP_TOL, tol); // never tighter than the weights' own tolerance
  const errors = caseErrors(c, ref);
  c.stepLogits.forEach((_, k) => expectGreedyMatches(ref[c.promptTokens.length - 1 + k]!, c.generated[k]!, flips ? flipTol : tol));
  if (flips) expectAgreeUpToFlips(errors, tol, flipTol);
  else expect(Math.max(...errors)).toBeLessThanOrEqual(tol);
  return Math.max(...errors);
}

// Each logits vector of a case against the reference's after the same position (a case's
// first step logits follow its last prompt token, as its last prompt logits do).
function caseErrors(c: GreedyCase, ref: Float64Array[]): number[] {
  const n = c.promptTokens.length;
  return [...c.promptLogits.map((l, i) => relativeError(l, ref[i]!)), ...c.stepLogits.map((l, k) => relativeError(l, ref[n - 1 + k]!))];
}

export async function expectEngineMatchesReference(
  engine: Engine,
  dir: string,
  prompts: number[][],
  options: { steps: number; chunk?: number; tol: number; kvDtype?: KvDtype },
): Promise<GreedyCase[]> {
  const cases = await generateGreedy(engine, prompts, { steps: options.steps, chunk: options.chunk, promptLogits: true });
  for (const c of cases) {
    expect(c.promptLogits).toHaveLength(c.promptTokens.length);
    expect(c.generated).toHaveLength(options.steps);
    expectCaseMatchesReference(dir, c, options.tol, options.kvDtype);
  }
  return cases;
}

// Deterministic pseudo-random prompt of token ids in [3, vocab).
export function prompt(length: number, seed: number, vocab: number): number[] {
  let s = seed >>> 0 || 1;
  return Array.from({ length }, () => {
    s ^= s << 13;
    s ^= s >>> 17;
    s ^= s << 5;
    return 3 + ((s >>> 0) % (vocab - 3));
  });
}
