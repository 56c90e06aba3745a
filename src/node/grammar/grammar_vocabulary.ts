// What XGrammar needs to know about our tokenizer: every token's raw piece in id order, how to
// turn a piece into text bytes, and which ids end generation.
//
// Mistral's sentencepiece vocabularies (v1: 32000 pieces) are XGrammar's "byte_fallback" kind:
// <0xNN> pieces are single bytes and ▁ is a space, exactly as Tokenizer.tokenBytes reads them.
// Special tokens other than the stop token (<unk>, <s>, control tokens) are given as empty
// pieces: XGrammar treats an empty piece as special and never allows it, where their literal
// text ("<s>") would otherwise count as characters a JSON string may contain.
import type { Tokenizer } from '../../tokenizer/tokenizer.ts';
import { xgrammar } from './xgrammar_runtime.ts';

export type GrammarVocabulary = {
  /** Raw pieces by id ('' for special tokens that must never be sampled under a grammar). */
  encodedVocab: string[];
  vocabType: 'byte_fallback';
  /** Sentencepiece prepends ▁ to the text it encodes (Mistral v1: yes). */
  prependSpace: boolean;
  /** The logits' length: at least the tokenizer's size (a model may pad its vocabulary). */
  vocabSize: number;
  stopTokenIds: number[];
};

export type GrammarVocabularyOptions = {
  /** Length of the model's logits, when larger than the tokenizer's vocabulary. */
  logitsSize?: number;
  /** Ids that end generation; default: the tokenizer's EOS. */
  stopTokenIds?: number[];
};

export function grammarVocabulary(tokenizer: Tokenizer, options: GrammarVocabularyOptions = {}): GrammarVocabulary {
  const stopTokenIds = options.stopTokenIds ?? (tokenizer.eosId === null ? [] : [tokenizer.eosId]);
  if (stopTokenIds.length === 0) throw new Error('constrained decoding needs an end-of-sequence token: the tokenizer has none');
  const vocabSize = Math.max(options.logitsSize ?? 0, tokenizer.vocabSize);
  for (const id of stopTokenIds) {
    if (!Number.isInteger(id) || id < 0 || id >= vocabSize) throw new RangeError(`stop token id ${id} is outside the vocabulary (0 … ${vocabSize - 1})`);
  }
  const stops = new Set(stopTokenIds);
  const encodedVocab: string[] = [];
  for (let id = 0; id < tokenizer.vocabSize; id++) {
    encodedVocab.push(tokenizer.isSpecial(id) && !stops.has(id) ? '' : tokenizer.tokenString(id));
  }
  return { encodedVocab, vocabType: 'byte_fallback', prependSpace: true, vocabSize, stopTokenIds };
}

/** XGrammar's TokenizerInfo for `vocabulary` (decodes the 32000 pieces once, a few ms). */
export async function createTokenizerInfo(vocabulary: GrammarVocabulary) {
  return xgrammar().TokenizerInfo.createTokenizerInfo(
    vocabulary.encodedVocab,
    vocabulary.vocabType,
    vocabulary.prependSpace,
    vocabulary.vocabSize,
    vocabulary.stopTokenIds,
  );
}
