// response_format json_object / json_schema: checked here, with the grammar module's own rules
// (the supported JSON Schema subset; an unsupported keyword is a 400 naming its path), before
// any node works; the node compiles the same value into the grammar that masks each token.
import { jsonSchemaGrammar } from '../node/grammar/json_schema_grammar.ts';
import { parseResponseFormat } from '../node/grammar/response_format.ts';
import { ResponseFormatError } from '../node/grammar/response_format_error.ts';
import { normalizeJsonSchema } from '../node/grammar/schema_support.ts';
import { invalidRequest } from './openai_error.ts';

// null for free text; else the value to forward to the node.
export function structuredOutput(value: unknown, fields: { ignoreEos: boolean; minTokens: number }): unknown {
  if (value == null) return null;
  try {
    const format = parseResponseFormat(value, 'response_format');
    if (format.type === 'text') return null;
    if (format.type === 'json_schema' && format.schema !== null)
      jsonSchemaGrammar(normalizeJsonSchema(format.schema, { path: 'response_format.json_schema.schema' }), { strict: format.strict, maxWhitespace: 16 });
  } catch (err) {
    if (err instanceof ResponseFormatError) throw invalidRequest(err.message, err.param);
    throw err;
  }
  // The grammar ends the output with EOS once the JSON is complete: holding EOS back would
  // leave no token to choose.
  if (fields.ignoreEos) throw invalidRequest('ignore_eos cannot be combined with a JSON response_format: the output ends when the JSON is complete', 'ignore_eos');
  if (fields.minTokens > 0) throw invalidRequest('min_tokens cannot be combined with a JSON response_format: the output ends when the JSON is complete', 'min_tokens');
  return value;
}
