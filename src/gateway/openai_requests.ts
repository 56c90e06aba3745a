// Request bodies of /v1/chat/completions and /v1/completions, validated with zod: OpenAI's
// fields (tools and tool calls included), the sampling extensions vLLM users send, and
// Mistral's `random_seed`/`safe_prompt`, `tool_choice: "any"` and object tool arguments.
// The schemas are strict; request_validation.ts decides whether an unknown field is a 400
// (--strict-params) or ignored. Fields we do not implement are accepted only at their
// neutral value.
import { z } from 'zod';
import { MAX_LOGIT_BIAS, MAX_STOP_TOKEN_IDS } from '../protocol/internal_api.ts';

const neutral = <T extends z.ZodType>(schema: T, value: unknown, what: string) =>
  schema.optional().refine((v) => v === undefined || v === null || v === value, `${what} is not supported yet`);

const seed = (name: string) =>
  z
    .number()
    .int(`${name} must be an integer`)
    .min(-(2 ** 53) + 1, `${name} must be a safe integer`)
    .max(2 ** 53 - 1, `${name} must be a safe integer`)
    .nullish();
const penalty = (name: string) => z.number().min(-2, `${name} must be between -2 and 2`).max(2, `${name} must be between -2 and 2`).nullish();

const samplingFields = {
  model: z.string({ error: 'model is required' }).min(1, 'model is required'),
  max_tokens: z.number().int().positive().nullish(),
  temperature: z.number().min(0).max(2).nullish(),
  top_p: z.number().gt(0).max(1).nullish(),
  top_k: z.number().int().min(-1).nullish(), // vLLM extension; -1 or 0 = off
  n: z.number().int().min(1).max(8).nullish(),
  stream: z.boolean().nullish(),
  stream_options: z.strictObject({ include_usage: z.boolean().optional() }).nullish(),
  stop: z.union([z.string().min(1), z.array(z.string().min(1)).max(4)]).nullish(),
  seed: seed('seed'),
  random_seed: seed('random_seed'), // Mistral's name for seed
  user: z.string().max(256).nullish(),
  presence_penalty: penalty('presence_penalty'),
  frequency_penalty: penalty('frequency_penalty'),
  repetition_penalty: z.number().gt(0, 'repetition_penalty must be greater than 0 (1 = off)').nullish(),
  min_p: z.number().min(0, 'min_p must be between 0 and 1').max(1, 'min_p must be between 0 and 1').nullish(),
  logit_bias: z
    .record(
      z.string().regex(/^\d+$/, 'logit_bias keys must be token ids (non-negative integers)'),
      z.number().min(-100, 'logit_bias values must be between -100 and 100').max(100, 'logit_bias values must be between -100 and 100'),
    )
    .refine((m) => Object.keys(m).length <= MAX_LOGIT_BIAS, `logit_bias may hold at most ${MAX_LOGIT_BIAS} tokens`)
    .nullish(),
  min_tokens: z.number().int().min(0, 'min_tokens must be a non-negative integer').nullish(),
  ignore_eos: z.boolean().nullish(),
  stop_token_ids: z.array(z.number().int().nonnegative()).max(MAX_STOP_TOKEN_IDS, `stop_token_ids may hold at most ${MAX_STOP_TOKEN_IDS} ids`).nullish(),
  // vLLM: logprobs name tokens "token_id:123", so a client can tell which id was chosen.
  return_tokens_as_token_ids: z.boolean().nullish(),
};

const TextPart = z.strictObject({ type: z.literal('text'), text: z.string() });
const Content = z.union([z.string(), z.array(TextPart).min(1)]);

// OpenAI sends arguments as a JSON string, Mistral's SDK may send the object itself.
const ToolCall = z.object({
  id: z.string().min(1, 'a tool call needs its id'),
  type: z.literal('function').optional(),
  function: z.object({ name: z.string().min(1), arguments: z.union([z.string(), z.record(z.string(), z.unknown())]) }),
});

const Message = z.discriminatedUnion(
  'role',
  [
    z.object({ role: z.enum(['system', 'developer', 'user']), content: Content, name: z.string().optional() }),
    z.object({
      role: z.literal('assistant'),
      // null or absent when the message only calls tools
      content: Content.nullish(),
      name: z.string().optional(),
      tool_calls: z.array(ToolCall).nullish(),
    }),
    z.object({ role: z.literal('tool'), content: Content, tool_call_id: z.string({ error: 'a tool message needs the tool_call_id it answers' }).min(1) }),
  ],
  { error: "role must be 'system', 'developer', 'user', 'assistant' or 'tool'" },
);
export const ChatRequestMessage = Message;
export type ChatRequestMessage = z.infer<typeof Message>;

// OpenAI's rule for function names: a-z, A-Z, 0-9, underscores and dashes, at most 64.
export const FunctionName = z.string().regex(/^[A-Za-z0-9_-]{1,64}$/, 'function names are 1-64 characters of a-z, A-Z, 0-9, _ and -');

export const FunctionTool = z.object({
  type: z.literal('function'),
  function: z.object({
    name: FunctionName,
    description: z.string().nullish(),
    parameters: z.record(z.string(), z.unknown(), { error: 'parameters must be a JSON Schema object' }).nullish(),
    strict: z.boolean().nullish(),
  }),
});
export type FunctionTool = z.infer<typeof FunctionTool>;

// 'any' is Mistral's name for 'required'.
export const ToolChoice = z.union([
  z.enum(['none', 'auto', 'required', 'any'], { error: "tool_choice must be 'none', 'auto', 'required' or {type: 'function', function: {name}}" }),
  z.object({ type: z.literal('function'), function: z.object({ name: FunctionName }) }),
]);
export type ToolChoice = z.infer<typeof ToolChoice>;

export const ChatCompletionRequest = z.strictObject({
  ...samplingFields,
  messages: z.array(Message).min(1, 'messages must contain at least one message'),
  max_completion_tokens: z.number().int().positive().nullish(),
  logprobs: z.boolean().nullish(),
  top_logprobs: z.number().int().min(0).max(20).nullish(),
  response_format: z.unknown().nullish(), // checked in structured_output.ts (needs the grammar's rules)
  tools: z.array(FunctionTool).max(128, 'tools may hold at most 128 functions').nullish(),
  tool_choice: ToolChoice.nullish(),
  parallel_tool_calls: z.boolean().nullish(),
  store: z.boolean().nullish(),
  metadata: z.record(z.string(), z.string()).nullish(),
  safe_prompt: z.boolean().nullish(), // Mistral: prepend its documented safety system prompt
});
export type ChatCompletionRequest = z.infer<typeof ChatCompletionRequest>;

export const CompletionRequest = z.strictObject({
  ...samplingFields,
  prompt: z.union([
    z.string(),
    z.array(z.string()).length(1, 'prompt arrays must hold exactly one prompt'),
    z.array(z.number().int().nonnegative()).min(1),
  ]),
  logprobs: z.number().int().min(0).max(5).nullish(),
  echo: neutral(z.boolean().nullable(), false, 'echo'),
  suffix: neutral(z.string().nullable(), null, 'suffix'),
  best_of: neutral(z.number().nullable(), 1, 'best_of other than 1'),
});
export type CompletionRequest = z.infer<typeof CompletionRequest>;

// zod issue path → OpenAI's param notation: messages[0].content
export function paramName(path: readonly PropertyKey[]): string | null {
  if (path.length === 0) return null;
  return path.map((p, i) => (typeof p === 'number' ? `[${p}]` : `${i === 0 ? '' : '.'}${String(p)}`)).join('');
}
