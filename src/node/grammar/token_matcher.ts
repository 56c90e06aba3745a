// One request's grammar state: which tokens may come next, and advancing by the sampled one.
//
// Per generated token the sampler would:
//   await matcher.fillNextTokenBitmask();   // XGrammar computes the allowed set (WASM)
//   matcher.applyMask(logits);              // disallowed logits → -Infinity
//   const token = sample(logits);
//   matcher.accept(token);                  // false = the grammar rejects it (a bug upstream)
// and stop once isTerminated(): the grammar is complete and the stop token (EOS) accepted.
// The mask is XGrammar's, narrowed so that byte tokens only ever spell valid UTF-8 (utf8_guard.ts).
// fillNextTokenBitmask is async only because XGrammar's API is; the work is synchronous on the
// calling thread, so it can run while the engine computes the step's logits.
import type { GrammarMatcher } from '@mlc-ai/web-xgrammar';
import { applyTokenBitmask, isTokenAllowed } from './bitmask.ts';
import type { Utf8Guard } from './utf8_guard.ts';

export class TokenMatcher {
  private mask: Int32Array | null = null;
  private disposed = false;
  /** Tokens accepted so far. */
  accepted = 0;

  constructor(
    private readonly matcher: GrammarMatcher,
    readonly vocabSize: number,
    private readonly utf8: Utf8Guard,
  ) {}

  /** The allowed set for the next token: bit t of word t>>5 set = token t allowed. */
  async fillNextTokenBitmask(): Promise<Int32Array> {
    this.check();
    if (this.mask === null) {
      const mask = await this.matcher.getNextTokenBitmask();
      this.utf8.restrict(mask);
      this.mask = mask;
    }
    return this.mask;
  }

  /** Sets the logits of every token the grammar does not allow next to -Infinity, in place. */
  applyMask(logits: Float32Array): void {
    applyTokenBitmask(logits, this.currentMask());
  }

  /** Whether `token` may come next (after fillNextTokenBitmask). */
  allows(token: number): boolean {
    return token >= 0 && token < this.vocabSize && isTokenAllowed(this.currentMask(), token);
  }

  /** Advances by `token`; false (and no change) when the grammar does not allow it. */
  accept(token: number): boolean {
    this.check();
    if (this.matcher.isTerminated() || !Number.isInteger(token) || token < 0 || token >= this.vocabSize) return false;
    if (!this.utf8.allows(token) || !this.matcher.acceptToken(token)) return false;
    this.utf8.accept(token);
    this.mask = null;
    this.accepted++;
    return true;
  }

  /** The grammar is complete and its stop token was accepted: nothing may follow. */
  isTerminated(): boolean {
    this.check();
    return this.matcher.isTerminated();
  }

  /** Frees the WASM-side state; the matcher cannot be used afterwards. */
  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    this.matcher.dispose();
  }

  private currentMask(): Int32Array {
    if (this.mask === null) throw new Error('TokenMatcher: call fillNextTokenBitmask() before using the mask of this step');
    return this.mask;
  }

  private check(): void {
    if (this.disposed) throw new Error('TokenMatcher: used after dispose()');
  }
}
