// Keeps byte-fallback tokens from spelling invalid UTF-8.
//
// XGrammar 0.1.27 decodes UTF-8 leniently: inside a JSON string it accepts surrogates
// (ED A0 80), overlong forms (C0 80, E0 80 80) and code points past U+10FFFF (F4 90 80 80).
// Our detokenizer turns each such byte into U+FFFD, so the text no longer says what the grammar
// counted (a one-character overlong NUL becomes two characters and can break maxLength). Only
// <0xNN> tokens can produce these: every other piece is whole, valid UTF-8. The guard follows
// the sequence the byte tokens are building and masks every byte Unicode's well-formed table
// (Unicode §3.9, table 3-7) does not allow next; valid characters always stay possible.
import { byteOfPiece, type Tokenizer } from '../../tokenizer/tokenizer.ts';

/** [first, last] byte allowed next, and how many continuation bytes follow it. */
type Expect = { lo: number; hi: number; after: number };

function afterLead(lead: number): Expect | 'invalid' | 'ascii' {
  if (lead < 0x80) return 'ascii';
  if (lead >= 0xc2 && lead <= 0xdf) return { lo: 0x80, hi: 0xbf, after: 0 };
  if (lead === 0xe0) return { lo: 0xa0, hi: 0xbf, after: 1 };
  if ((lead >= 0xe1 && lead <= 0xec) || lead === 0xee || lead === 0xef) return { lo: 0x80, hi: 0xbf, after: 1 };
  if (lead === 0xed) return { lo: 0x80, hi: 0x9f, after: 1 };
  if (lead === 0xf0) return { lo: 0x90, hi: 0xbf, after: 2 };
  if (lead >= 0xf1 && lead <= 0xf3) return { lo: 0x80, hi: 0xbf, after: 2 };
  if (lead === 0xf4) return { lo: 0x80, hi: 0x8f, after: 2 };
  return 'invalid'; // 80–C1 (continuations, overlong leads), F5–FF
}

export class Utf8Guard {
  /** Token id of each byte (-1: the vocabulary has no <0xNN> token for it). */
  private readonly tokenOfByte: Int32Array;
  /** Byte of each byte token, -1 for every other token. */
  private readonly byteOfToken: Int16Array;
  private expect: Expect | null = null;

  constructor(tokenOfByte: Int32Array, byteOfToken: Int16Array) {
    this.tokenOfByte = tokenOfByte;
    this.byteOfToken = byteOfToken;
  }

  static forTokenizer(tokenizer: Tokenizer): Utf8Guard {
    const tokenOfByte = new Int32Array(256).fill(-1);
    const byteOfToken = new Int16Array(tokenizer.vocabSize).fill(-1);
    for (let id = 0; id < tokenizer.vocabSize; id++) {
      const byte = byteOfPiece(tokenizer.tokenString(id));
      if (byte === null) continue;
      tokenOfByte[byte] = id;
      byteOfToken[id] = byte;
    }
    return new Utf8Guard(tokenOfByte, byteOfToken);
  }

  /** A guard for another sequence over the same vocabulary, at its start. */
  fresh(): Utf8Guard {
    return new Utf8Guard(this.tokenOfByte, this.byteOfToken);
  }

  /** Whether `token` keeps the text valid UTF-8. */
  allows(token: number): boolean {
    const byte = token < this.byteOfToken.length ? this.byteOfToken[token]! : -1;
    if (this.expect !== null) return byte >= this.expect.lo && byte <= this.expect.hi;
    return byte < 0 || afterLead(byte) !== 'invalid';
  }

  /** Clears, in an XGrammar bitmask, the bits of tokens that would make invalid UTF-8. */
  restrict(bitmask: Int32Array): void {
    if (this.expect === null) {
      for (let byte = 0x80; byte <= 0xff; byte++) if (afterLead(byte) === 'invalid') this.clear(bitmask, byte);
      return;
    }
    // Mid-character: only the allowed continuation bytes.
    const allowed: number[] = [];
    for (let byte = this.expect.lo; byte <= this.expect.hi; byte++) {
      const id = this.tokenOfByte[byte]!;
      if (id >= 0 && ((bitmask[id >>> 5]! >>> (id & 31)) & 1) === 1) allowed.push(id);
    }
    bitmask.fill(0);
    for (const id of allowed) bitmask[id >>> 5] |= 1 << (id & 31);
  }

  /** Follows an accepted token. */
  accept(token: number): void {
    const byte = token < this.byteOfToken.length ? this.byteOfToken[token]! : -1;
    if (this.expect !== null) {
      this.expect = this.expect.after === 0 ? null : { lo: 0x80, hi: 0xbf, after: this.expect.after - 1 };
      return;
    }
    if (byte < 0) return;
    const next = afterLead(byte);
    this.expect = typeof next === 'object' ? next : null;
  }

  private clear(bitmask: Int32Array, byte: number): void {
    const id = this.tokenOfByte[byte]!;
    if (id >= 0) bitmask[id >>> 5] &= ~(1 << (id & 31));
  }
}
