// Per-request rules that reshape a step's logits before the sampler sees them (and so before
// temperature, min-p, top-k and top-p): repetition, frequency and presence penalties, logit
// bias, and the end-token mask of min_tokens. Greedy decoding takes the argmax of the result,
// so temperature 0 honours them too; seeded sampling stays reproducible because nothing here
// draws random numbers.
//
// Order, and why:
//  1. repetition_penalty (HF / vLLM, CTRL paper): for every token in prompt ∪ output, a
//     positive logit is divided by it and a negative one multiplied, so the token always
//     becomes less likely (for a penalty > 1).
//  2. frequency / presence penalties (OpenAI): logit[j] -= count[j] * frequency
//     + (count[j] > 0) * presence, count over the tokens this choice generated.
//  3. logit_bias (OpenAI): added last of the three, so ±100 stays the user's absolute
//     ban / force whatever the penalties did.
//  4. min_tokens: EOS and stop_token_ids are -Infinity until that many tokens exist.
// Logprobs are still reported from the raw logits (sampler.ts): they describe the model.

export type LogitRuleParams = {
  presencePenalty: number; // 0 = off
  frequencyPenalty: number; // 0 = off
  repetitionPenalty: number; // 1 = off
  logitBias: readonly (readonly [number, number])[]; // [token id, bias in -100..100]
  minTokens: number; // 0 = off
};

export const NEUTRAL_LOGIT_RULES: LogitRuleParams = { presencePenalty: 0, frequencyPenalty: 0, repetitionPenalty: 1, logitBias: [], minTokens: 0 };

export class LogitRules {
  // Times each token was generated in this choice (frequency / presence penalties).
  private readonly counts = new Map<number, number>();
  // Distinct tokens of prompt ∪ output (repetition penalty), filled only when it is on.
  private readonly seen = new Set<number>();
  private generated = 0;

  constructor(
    private readonly params: LogitRuleParams,
    prompt: readonly number[],
    private readonly endTokens: readonly number[], // EOS and stop_token_ids, masked under min_tokens
  ) {
    if (params.repetitionPenalty !== 1) for (const t of prompt) this.seen.add(t);
  }

  // Whether apply() reshapes the next logits (else it hands them back as they are).
  get changesLogits(): boolean {
    const p = this.params;
    return (
      p.repetitionPenalty !== 1 ||
      (p.frequencyPenalty !== 0 && this.counts.size > 0) ||
      (p.presencePenalty !== 0 && this.counts.size > 0) ||
      p.logitBias.length > 0 ||
      (this.generated < p.minTokens && this.endTokens.length > 0)
    );
  }

  // The logits to sample from: `logits` itself when no rule applies (no copy), else a copy.
  apply(logits: Float32Array): Float32Array {
    if (!this.changesLogits) return logits;
    const p = this.params;
    const out = Float32Array.from(logits);
    const inVocab = (t: number) => t < out.length;
    if (p.repetitionPenalty !== 1)
      for (const t of this.seen) if (inVocab(t)) out[t] = out[t]! > 0 ? out[t]! / p.repetitionPenalty : out[t]! * p.repetitionPenalty;
    if (p.frequencyPenalty !== 0 || p.presencePenalty !== 0)
      for (const [t, n] of this.counts) if (inVocab(t)) out[t] = out[t]! - n * p.frequencyPenalty - p.presencePenalty;
    for (const [t, bias] of p.logitBias) if (inVocab(t)) out[t] = out[t]! + bias;
    if (this.generated < p.minTokens) for (const t of this.endTokens) if (inVocab(t)) out[t] = -Infinity;
    return out;
  }

  // Records a generated token (call once per sampled token, in order).
  observe(token: number): void {
    this.generated++;
    this.counts.set(token, (this.counts.get(token) ?? 0) + 1);
    if (this.params.repetitionPenalty !== 1) this.seen.add(token);
  }
}
