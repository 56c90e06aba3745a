// Runs greedy generation on the engine and checks every logits vector (after each prompt
// token and each generated one) against the float64 reference, within DESIGN.md tolerances.
import { expect } from 'vitest';
import type { Engine } from '../../src/engine/engine.ts';
import { generateGreedy, type GreedyCase } from '../../src/engine/generate.ts';
import { argmaxLowest, loadReferenceModel, referenceLogits, relativeError, type ReferenceModel } from '../reference/forward64.ts';

export const TOLERANCE = { f32: 1e-3, f16: 1e-2, bf16: 2e-2 } as const;

// Reference logits per (model, token sequence), so chunk-size sweeps compute them once.
const cache = new Map<string, Float64Array[]>();
const models = new Map<string, ReferenceModel>();

export function referenceFor(dir: string, tokens: number[]): Float64Array[] {
  const key = `${dir}|${tokens.join(',')}`;
  let logits = cache.get(key);
  if (!logits) {
    let model = models.get(dir);
    if (!model) models.set(dir, (model = loadReferenceModel(dir)));
    logits = referenceLogits(model, tokens);
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

export function expectCaseMatchesReference(dir: string, c: GreedyCase, tol: number): number {
  const tokens = [...c.promptTokens, ...c.generated.slice(0, -1)];
  const ref = referenceFor(dir, tokens);
  let worst = 0;
  c.promptLogits.forEach((logits, i) => (worst = Math.max(worst, relativeError(logits, ref[i]!))));
  c.stepLogits.forEach((logits, k) => {
    const r = ref[c.promptTokens.length - 1 + k]!;
    worst = Math.max(worst, relativeError(logits, r));
    expectGreedyMatches(r, c.generated[k]!, tol);
  });
  expect(worst).toBeLessThanOrEqual(tol);
  return worst;
}

export async function expectEngineMatchesReference(
  engine: Engine,
  dir: string,
  prompts: number[][],
  options: { steps: number; chunk?: number; tol: number },
): Promise<GreedyCase[]> {
  const cases = await generateGreedy(engine, prompts, { steps: options.steps, chunk: options.chunk, promptLogits: true });
  for (const c of cases) {
    expect(c.promptLogits).toHaveLength(c.promptTokens.length);
    expect(c.generated).toHaveLength(options.steps);
    expectCaseMatchesReference(dir, c, options.tol);
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
