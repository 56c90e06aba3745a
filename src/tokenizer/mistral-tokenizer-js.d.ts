// Types for the parts of mistral-tokenizer-js we use (the package ships none). It bundles the
// real Mistral v1 sentencepiece vocabulary and merges; see mistral_v1_tokenizer.ts.
declare module 'mistral-tokenizer-js' {
  interface MistralTokenizer {
    /** Piece by id, 32000 entries ("<unk>", "<s>", "</s>", "<0x00>" …, "▁t", …). */
    vocabById: string[];
    vocabByString: Map<string, number>;
    /** "left right" (pieces joined by one space) → priority; lower merges first. */
    merges: Map<string, number>;
    encode(text: string, addBosToken?: boolean, addPrecedingSpace?: boolean): number[];
    decode(ids: number[], addBosToken?: boolean, addPrecedingSpace?: boolean): string;
  }
  const mistralTokenizer: MistralTokenizer;
  export default mistralTokenizer;
}
