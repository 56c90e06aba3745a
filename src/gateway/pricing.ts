// Per-token prices per model, so every usage record carries what the request cost. A JSON file
// (`sirocco gateway --prices FILE`, or $SIROCCO_PRICES) in US dollars per million tokens:
//   { "mistral-7b": { "input": 0.25, "cached_input": 0.025, "output": 0.25 }, "*": {…} }
// "*" prices any model without its own entry; a model with no price gets cost null.
// Cached prompt tokens are billed at cached_input (default: input): they are part of the prompt.
import { readFileSync } from 'node:fs';
import { z } from 'zod';

const perMillion = z.number().nonnegative().finite();
const Price = z.strictObject({ input: perMillion, cached_input: perMillion.optional(), output: perMillion });
export const Prices = z.record(z.string().min(1), Price);
export type Prices = z.infer<typeof Prices>;

export function loadPrices(file: string): Prices {
  let json: unknown;
  try {
    json = JSON.parse(readFileSync(file, 'utf8'));
  } catch (err) {
    throw new Error(`cannot read the prices file ${file}: ${(err as Error).message}`);
  }
  const parsed = Prices.safeParse(json);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    throw new Error(`${file}: ${issue.path.join('.') || '(top level)'}: ${issue.message} — expected {"model": {"input": $/M, "output": $/M, "cached_input"?: $/M}}`);
  }
  return parsed.data;
}

/** US dollars, rounded to a millionth of a cent; null when the model has no price. */
export function costOf(prices: Prices, model: string, t: { prompt_tokens: number; cached_tokens: number; completion_tokens: number }): number | null {
  const p = prices[model] ?? prices['*'];
  if (!p) return null;
  const dollars = ((t.prompt_tokens - t.cached_tokens) * p.input + t.cached_tokens * (p.cached_input ?? p.input) + t.completion_tokens * p.output) / 1e6;
  return Math.round(dollars * 1e8) / 1e8;
}
