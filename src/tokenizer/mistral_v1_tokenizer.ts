// The real Mistral v1 tokenizer (Mistral-7B-v0.1, Mixtral-8x7B) as Hugging Face files, built
// from the vocabulary and merges bundled in mistral-tokenizer-js: 32000 sentencepiece pieces
// (<unk>=0, <s>=1, </s>=2, <0x00>…<0xFF>=3…258, then ▁-prefixed words and subwords) and their
// BPE merges. Generated 32000-vocab models use it, so real text maps to the ids a real Mistral
// model would see ("Hello world!" → <s> ▁Hello ▁world !).
import mistralTokenizer from 'mistral-tokenizer-js';
import { mistralV1ChatTemplate } from './mistral_v1_chat_template.ts';
import { llamaTokenizerConfigJson, sentencepieceBpeTokenizerJson } from './sentencepiece_bpe.ts';

/** Merges as "left right", best (lowest priority number) first. */
function mergesInRankOrder(): string[] {
  const merges = [...mistralTokenizer.merges.entries()].sort((a, b) => a[1] - b[1]).map(([pair]) => pair);
  // tokenizer.json separates a merge's two pieces with one space; a piece holding a space would
  // make that ambiguous (sentencepiece writes spaces as ▁, so none should).
  for (const merge of merges) {
    if (merge.split(' ').length !== 2) throw new Error(`ambiguous Mistral merge ${JSON.stringify(merge)}`);
  }
  return merges;
}

export function mistralV1TokenizerJson(): object {
  return sentencepieceBpeTokenizerJson(mistralTokenizer.vocabById, mergesInRankOrder());
}

/** `legacy: true`: like the original, a ▁ is prepended after special tokens ("<s>[INST]" → <s> ▁[ INST ]). */
export function mistralV1TokenizerConfigJson(maxPositions: number): object {
  return llamaTokenizerConfigJson({ maxPositions, chatTemplate: mistralV1ChatTemplate, legacy: true });
}
