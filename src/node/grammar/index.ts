// Structured outputs by constrained decoding (XGrammar's WebAssembly build). See
// constrained_decoding.ts for the flow and token_matcher.ts for the per-token calls.
export { applyTokenBitmask, bitmaskWords, countAllowed, isTokenAllowed } from './bitmask.ts';
export { ConstrainedDecoding, type CompiledResponseFormat, type ConstrainedDecodingOptions } from './constrained_decoding.ts';
export { integerLimit, integerRange } from './integer_grammar.ts';
export { jsonObjectGrammar, jsonSchemaGrammar, type JsonGrammarOptions } from './json_schema_grammar.ts';
export { grammarVocabulary, type GrammarVocabulary, type GrammarVocabularyOptions } from './grammar_vocabulary.ts';
export { parseResponseFormat, type ResponseFormat } from './response_format.ts';
export { ResponseFormatError } from './response_format_error.ts';
export { normalizeJsonSchema, type Schema } from './schema_support.ts';
export { TokenMatcher } from './token_matcher.ts';
