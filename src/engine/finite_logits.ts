// Logits that are not finite mean the weights are (a NaN or Inf in any tensor on the path
// spreads to every logit): sampling them would answer token 0 forever. The node refuses to
// start on such a model (selfTest), and a request whose logits turn non-finite later (a bad
// value in a row only some tokens reach) fails with this error instead of emitting garbage.
import type { Engine } from './engine.ts';

const WHAT_TO_DO = "the model's weights hold NaN or Inf values: find them with 'sirocco weights verify --finite DIR'";

export class NonFiniteLogits extends Error {
  override name = 'NonFiniteLogits';
}

export function nonFiniteLogitsError(token: number): NonFiniteLogits {
  return new NonFiniteLogits(`the model produced non-finite logits (NaN or Inf) after token ${token}: ${WHAT_TO_DO}`);
}

/** One step on `token` in a scratch sequence; throws NonFiniteLogits if its logits are not all finite. */
export async function selfTest(engine: Engine, token: number): Promise<void> {
  const seq = engine.createSequence();
  try {
    const { scans } = await engine.stepScanned([{ sequence: seq, tokens: [token] }]);
    if (scans[0]![0]!.firstNonFinite >= 0) throw nonFiniteLogitsError(token);
  } finally {
    engine.freeSequence(seq);
  }
}
