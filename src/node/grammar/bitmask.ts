// XGrammar's token bitmask: one bit per token id, 32 ids per Int32 word, bit set = allowed.
// Words are little-endian in id order: token t is bit (t % 32) of word floor(t / 32).

/** Words needed for `vocabSize` ids. */
export const bitmaskWords = (vocabSize: number): number => Math.ceil(vocabSize / 32);

export function isTokenAllowed(bitmask: Int32Array, token: number): boolean {
  return ((bitmask[token >>> 5]! >>> (token & 31)) & 1) === 1;
}

/**
 * Sets every logit the bitmask rejects to -Infinity, in place. Ids past the bitmask (a model
 * whose logits are padded beyond the vocabulary) are rejected too. Words of 32 allowed ids are
 * skipped and words of 32 rejected ones filled at once; only mixed words go bit by bit.
 */
export function applyTokenBitmask(logits: Float32Array, bitmask: Int32Array): void {
  const words = Math.min(bitmask.length, bitmaskWords(logits.length));
  for (let w = 0; w < words; w++) {
    const word = bitmask[w]!;
    if (word === -1) continue;
    const base = w << 5;
    const end = Math.min(32, logits.length - base);
    if (word === 0) {
      logits.fill(-Infinity, base, base + end);
      continue;
    }
    for (let bit = 0; bit < end; bit++) if (((word >>> bit) & 1) === 0) logits[base + bit] = -Infinity;
  }
  logits.fill(-Infinity, words << 5);
}

/** How many ids below `vocabSize` the bitmask allows. */
export function countAllowed(bitmask: Int32Array, vocabSize: number): number {
  let n = 0;
  for (let t = 0; t < vocabSize; t++) if (isTokenAllowed(bitmask, t)) n++;
  return n;
}
