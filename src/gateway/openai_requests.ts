// Request bodies of /v1/chat/completions and /v1/completions, validated with zod. Unknown
// fields are refused (as OpenAI does) rather than silently ignored; fields we do not
// implement are accepted only at their neutral value.
import { z } from 'zod';

const neutral = <T extends z.ZodType>(schema: T, value: unknown, what: string) =>
  schema.optional().refine((v) => v === undefined || v === null || v === value, `${what} is not supported yet`);

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
  seed: z.number().int().min(-(2 ** 53) + 1).max(2 ** 53 - 1).nullish(),
  user: z.string().max(256).nullish(),
  presence_penalty: neutral(z.number().nullable(), 0, 'presence_penalty other than 0'),
  frequency_penalty: neutral(z.number().nullable(), 0, 'frequency_penalty other than 0'),
  logit_bias: neutral(z.record(z.string(), z.number()).nullable(), null, 'logit_bias'),
};

const TextPart = z.strictObject({ type: z.literal('text'), text: z.string() });
const Message = z.object({
  role: z.enum(['system', 'developer', 'user', 'assistant']),
  content: z.union([z.string(), z.array(TextPart).min(1)]),
  name: z.string().optional(),
});

export const ChatCompletionRequest = z.strictObject({
  ...samplingFields,
  messages: z.array(Message).min(1, 'messages must contain at least one message'),
  max_completion_tokens: z.number().int().positive().nullish(),
  logprobs: z.boolean().nullish(),
  top_logprobs: z.number().int().min(0).max(20).nullish(),
  response_format: z
    .strictObject({ type: z.literal('text', { error: "only response_format {type: 'text'} is supported" }) })
    .nullish(),
  tools: neutral(z.array(z.unknown()).nullable(), null, 'tools'),
  tool_choice: neutral(z.unknown(), 'none', 'tool_choice'),
  parallel_tool_calls: z.boolean().nullish(),
  store: z.boolean().nullish(),
  metadata: z.record(z.string(), z.string()).nullish(),
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
