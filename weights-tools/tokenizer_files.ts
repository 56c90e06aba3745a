// Tokenizer files of a generated model. A 32000-token vocab is Mistral v1's and a 32768-token
// one Mistral v3's (tool calling), so those models get the real Mistral tokenizer (real text
// in, real ids out). Any other size gets a toy
// sentencepiece-style BPE: 3 specials, the 256 byte tokens, then filler pieces up to the vocab
// size. With no merges and no single-character pieces, text encodes to byte tokens; generated
// filler ids decode to readable " t123" words.
import { llamaTokenizerConfigJson, sentencepieceBpeTokenizerJson, specialTokens } from '../src/tokenizer/sentencepiece_bpe.ts';

/** Piece strings by id: specials, <0xNN> bytes (as many as fit), then ▁t<id> fillers. */
export function vocabPieces(vocabSize: number): string[] {
  // <0x00> gets id 3 … <0xFF> id 258.
  const pieces: string[] = [...specialTokens].slice(0, vocabSize);
  for (let byte = 0; byte < 256 && pieces.length < vocabSize; byte++) {
    pieces.push(`<0x${byte.toString(16).toUpperCase().padStart(2, '0')}>`);
  }
  while (pieces.length < vocabSize) pieces.push(`▁t${pieces.length}`);
  return pieces;
}

/** The toy tokenizer.json for any vocab size. */
export function tokenizerJson(vocabSize: number): object {
  return sentencepieceBpeTokenizerJson(vocabPieces(vocabSize), []);
}

/** The toy tokenizer_config.json (no chat template: Sirocco falls back to Mistral's format). */
export function tokenizerConfigJson(maxPositions: number): object {
  return llamaTokenizerConfigJson({ maxPositions, legacy: false });
}

export interface TokenizerFiles {
  tokenizer: object;
  tokenizerConfig: object;
}

export const mistralV1VocabSize = 32000;
export const mistralV3VocabSize = 32768;

/** The tokenizer files make-tiny writes for a model with this vocab. */
export async function tokenizerFilesFor(vocabSize: number, maxPositions: number): Promise<TokenizerFiles> {
  // Imported on demand: decoding a bundled vocabulary costs time tiny models need not pay.
  if (vocabSize === mistralV1VocabSize) {
    const { mistralV1TokenizerJson, mistralV1TokenizerConfigJson } = await import('../src/tokenizer/mistral_v1_tokenizer.ts');
    return { tokenizer: mistralV1TokenizerJson(), tokenizerConfig: mistralV1TokenizerConfigJson(maxPositions) };
  }
  if (vocabSize === mistralV3VocabSize) {
    const { mistralV3TokenizerJson, mistralV3TokenizerConfigJson } = await import('../src/tokenizer/mistral_v3_tokenizer.ts');
    return { tokenizer: mistralV3TokenizerJson(), tokenizerConfig: mistralV3TokenizerConfigJson(maxPositions) };
  }
  return { tokenizer: tokenizerJson(vocabSize), tokenizerConfig: tokenizerConfigJson(maxPositions) };
}
