// A minimal but valid Hugging Face tokenizer for a generated model: the Llama/Mistral
// sentencepiece-style BPE (▁ for spaces, byte fallback) with 3 specials, the 256 byte
// tokens, then filler pieces up to the vocab size. With no merges and no single-character
// pieces, text encodes to byte tokens; generated filler ids decode to readable " t123" words.
// 32000-vocab models get the real Mistral vocab in a later step.

const specials = ['<unk>', '<s>', '</s>'] as const;
/** Piece strings by id: specials, <0xNN> bytes (as many as fit), then ▁t<id> fillers. */
export function vocabPieces(vocabSize: number): string[] {
  // <0x00> gets id 3 … <0xFF> id 258.
  const pieces: string[] = [...specials].slice(0, vocabSize);
  for (let byte = 0; byte < 256 && pieces.length < vocabSize; byte++) {
    pieces.push(`<0x${byte.toString(16).toUpperCase().padStart(2, '0')}>`);
  }
  while (pieces.length < vocabSize) pieces.push(`▁t${pieces.length}`);
  return pieces;
}

const tokenFlags = { single_word: false, lstrip: false, rstrip: false, normalized: false, special: true };

export function tokenizerJson(vocabSize: number): object {
  const vocab: Record<string, number> = {};
  vocabPieces(vocabSize).forEach((piece, id) => (vocab[piece] = id));
  return {
    version: '1.0',
    truncation: null,
    padding: null,
    added_tokens: specials.map((content, id) => ({ id, content, ...tokenFlags })),
    // sentencepiece convention: a leading ▁ and every space as ▁.
    normalizer: {
      type: 'Sequence',
      normalizers: [
        { type: 'Prepend', prepend: '▁' },
        { type: 'Replace', pattern: { String: ' ' }, content: '▁' },
      ],
    },
    pre_tokenizer: null,
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
      merges: [],
    },
  };
}

export function tokenizerConfigJson(maxPositions: number): object {
  const addedTokensDecoder: Record<string, object> = {};
  specials.forEach((content, id) => (addedTokensDecoder[String(id)] = { content, ...tokenFlags }));
  return {
    add_bos_token: true,
    add_eos_token: false,
    bos_token: '<s>',
    eos_token: '</s>',
    unk_token: '<unk>',
    pad_token: null,
    added_tokens_decoder: addedTokensDecoder,
    clean_up_tokenization_spaces: false,
    legacy: false,
    model_max_length: maxPositions,
    tokenizer_class: 'LlamaTokenizerFast',
  };
}
