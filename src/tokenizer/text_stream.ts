// Incremental detokenization for streaming: push token ids one at a time, get the text they
// complete. Everything pushed, plus flush(), concatenates to exactly tokenizer.decode(allIds).
//
// How: decode a short window of recent ids and emit what grew past the text already emitted.
// This is exact because the decoder is prefix-stable: appending ids only appends text, with
// two exceptions handled here.
//  - A run of <0xNN> byte tokens that stops mid-character decodes to a trailing U+FFFD that
//    the next byte may turn into a character: it is held back until it is settled.
//  - The very first space of the whole text is dropped ("▁Hello" → "Hello"). The window
//    therefore restarts on an "anchor": an already emitted token whose raw text is not
//    empty, so the space rule only ever applies to it, as it did in the full text.
// Each push decodes the anchor plus the ids since, so the cost per token stays constant.
import { byteOfPiece, type Tokenizer } from './tokenizer.ts';

const replacementChar = '\uFFFD';

export class TextStream {
  private readonly skipSpecialTokens: boolean;
  /** The anchor (once there is one) and every id pushed since. */
  private window: number[] = [];
  /** How much of decode(window) has been emitted (UTF-16 code units). */
  private emitted = 0;

  constructor(
    private readonly tok: Tokenizer,
    options: { skipSpecialTokens?: boolean } = {},
  ) {
    this.skipSpecialTokens = options.skipSpecialTokens ?? false;
  }

  /** The text `id` completes; '' while it only starts a character. */
  push(id: number): string {
    this.window.push(id);
    const text = this.decodeWindow();
    let ready = text.length;
    if (text.endsWith(replacementChar) && this.endsInByteToken()) ready -= 1;
    const out = text.slice(this.emitted, ready);
    this.emitted = ready;
    if (ready === text.length && this.canAnchor(id)) {
      this.window = [id];
      this.emitted = this.decodeWindow().length;
    }
    return out;
  }

  /** Whatever is still held back (an unfinished character decodes to U+FFFD); then resets. */
  flush(): string {
    const out = this.decodeWindow().slice(this.emitted);
    this.window = [];
    this.emitted = 0;
    return out;
  }

  private decodeWindow(): string {
    return this.tok.decode(this.window, { skipSpecialTokens: this.skipSpecialTokens });
  }

  private skipped(id: number): boolean {
    return this.skipSpecialTokens && this.tok.isSpecial(id);
  }

  private isByteToken(id: number): boolean {
    return id >= 0 && id < this.tok.vocabSize && byteOfPiece(this.tok.tokenString(id)) !== null;
  }

  /** Whether the text ends in a run of byte tokens (skipped specials do not break a run). */
  private endsInByteToken(): boolean {
    for (let i = this.window.length - 1; i >= 0; i--) {
      if (!this.skipped(this.window[i])) return this.isByteToken(this.window[i]);
    }
    return false;
  }

  /**
   * A token the window may restart on: it shows up in the text with a non-empty raw piece
   * and does not belong to a byte run (a run is decoded as a whole).
   */
  private canAnchor(id: number): boolean {
    return !this.skipped(id) && id >= 0 && id < this.tok.vocabSize && !this.isByteToken(id) && this.tok.tokenString(id) !== '';
  }
}
