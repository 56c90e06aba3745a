// The Hugging Face tokenizer.json / tokenizer_config.json shape shared by every Llama/Mistral
// sentencepiece-style BPE tokenizer we write (the toy one, the real Mistral v1 and v3 ones):
// ▁ stands for a space, a ▁ is prepended to the text, unknown characters fall back to
// <0xNN> byte tokens, and <s> is added in front. The vocab, the merges and the control tokens
// after </s> (v3's [INST], [TOOL_CALLS] …) differ.

export const specialTokens = ['<unk>', '<s>', '</s>'] as const;

export type SentencepieceBpeOptions = {
  /**
   * Pieces after </s> that are control tokens (ids 3 … 3+n-1), matched whole in text and never
   * split. With them, the ▁ goes in front of the text only, not after each control token:
   * "[INST] Hi" → [INST] ▁Hi, as Mistral's v3 tokenizer encodes it (v1 has no such tokens).
   */
  controlTokens: number;
};

/** Specials are matched literally in text and never normalized (so "<s>" stays one token). */
const specialTokenFlags = { single_word: false, lstrip: false, rstrip: false, normalized: false, special: true };

/**
 * tokenizer.json for a sentencepiece-style BPE. `pieces[id]` is the piece of token `id`
 * (ids 0, 1, 2 must be <unk>, <s>, </s>); `merges` are "left right" pairs, best rank first.
 */
export function sentencepieceBpeTokenizerJson(
  pieces: readonly string[],
  merges: readonly string[],
  options: SentencepieceBpeOptions = { controlTokens: 0 },
): object {
  specialTokens.forEach((content, id) => {
    if (pieces[id] !== content) throw new Error(`token ${id} must be ${content}, got ${JSON.stringify(pieces[id])}`);
  });
  const vocab: Record<string, number> = {};
  pieces.forEach((piece, id) => (vocab[piece] = id));
  const added = pieces.slice(0, specialTokens.length + options.controlTokens);
  // sentencepiece convention: a leading ▁ and every space as ▁. A normalizer runs on each text
  // between special tokens (▁ after each); Metaspace "first" only on the text's start.
  const spaces =
    options.controlTokens === 0
      ? {
          normalizer: {
            type: 'Sequence',
            normalizers: [
              { type: 'Prepend', prepend: '▁' },
              { type: 'Replace', pattern: { String: ' ' }, content: '▁' },
            ],
          },
          pre_tokenizer: null,
        }
      : { normalizer: null, pre_tokenizer: { type: 'Metaspace', replacement: '▁', prepend_scheme: 'first', split: false } };
  return {
    version: '1.0',
    truncation: null,
    padding: null,
    added_tokens: added.map((content, id) => ({ id, content, ...specialTokenFlags })),
    ...spaces,
    post_processor: {
      type: 'TemplateProcessing',
      single: [{ SpecialToken: { id: '<s>', type_id: 0 } }, { Sequence: { id: 'A', type_id: 0 } }],
      pair: [
        { SpecialToken: { id: '<s>', type_id: 0 } },
        { Sequence: { id: 'A', type_id: 0 } },
        { SpecialToken: { id: '<s>', type_id: 1 } },
        { Sequence: { id: 'B', type_id: 1 } },
      ],
      special_tokens: { '<s>': { id: '<s>', ids: [1], tokens: ['<s>'] } },
    },
    // Undo the normalizer: ▁ → space, <0xNN> runs → UTF-8, then drop the prepended space.
    decoder: {
      type: 'Sequence',
      decoders: [
        { type: 'Replace', pattern: { String: '▁' }, content: ' ' },
        { type: 'ByteFallback' },
        { type: 'Fuse' },
        { type: 'Strip', content: ' ', start: 1, stop: 0 },
      ],
    },
    model: {
      type: 'BPE',
      dropout: null,
      unk_token: '<unk>',
      continuing_subword_prefix: null,
      end_of_word_suffix: null,
      fuse_unk: true,
      byte_fallback: true,
      ignore_merges: false,
      vocab,
      merges,
    },
  };
}

export interface LlamaTokenizerConfigOptions {
  maxPositions: number;
  /** Jinja chat template; left out of the file when absent. */
  chatTemplate?: string;
  /** transformers' `legacy` flag: true when a ▁ is prepended after every special token too. */
  legacy: boolean;
  /** Control token pieces after </s> (ids 3, 4, …). */
  controlTokens?: readonly string[];
}

/** tokenizer_config.json: the specials, BOS-only framing and (optionally) the chat template. */
export function llamaTokenizerConfigJson(options: LlamaTokenizerConfigOptions): object {
  const addedTokensDecoder: Record<string, object> = {};
  [...specialTokens, ...(options.controlTokens ?? [])].forEach((content, id) => (addedTokensDecoder[String(id)] = { content, ...specialTokenFlags }));
  return {
    add_bos_token: true,
    add_eos_token: false,
    bos_token: '<s>',
    eos_token: '</s>',
    unk_token: '<unk>',
    pad_token: null,
    added_tokens_decoder: addedTokensDecoder,
    ...(options.chatTemplate === undefined ? {} : { chat_template: options.chatTemplate }),
    // Cleanup ("a ." → "a.") would make decoding depend on later tokens; Mistral turns it off.
    clean_up_tokenization_spaces: false,
    legacy: options.legacy,
    model_max_length: options.maxPositions,
    tokenizer_class: 'LlamaTokenizerFast',
  };
}
