// The internal API between gateway and node (never exposed to clients): request bodies and
// SSE event payloads, validated with zod on both sides.
import { z } from 'zod';

export const NODE_SECRET_HEADER = 'x-sirocco-node-secret';

// Bounds on per-request lists the node walks at every decoding step.
export const MAX_LOGIT_BIAS = 1024;
export const MAX_STOP_TOKEN_IDS = 64;

export const GenerateBody = z.object({
  request_id: z.string().min(1).max(200),
  tenant: z.string().min(1).max(200),
  session_key: z.string().max(1000).nullable(),
  prompt_tokens: z.array(z.number().int().nonnegative()).min(1),
  max_tokens: z.number().int().positive(),
  temperature: z.number().min(0).max(2),
  top_p: z.number().gt(0).max(1),
  top_k: z.number().int().min(0),
  seed: z.number().int().nullable(),
  stop: z.array(z.string().min(1)).max(4),
  logprobs: z.boolean(),
  top_logprobs: z.number().int().min(0).max(20),
  // Logit rules (src/node/logit_rules.ts). Defaults are the neutral values, so a gateway
  // that predates them still talks to this node.
  presence_penalty: z.number().min(-2).max(2).default(0),
  frequency_penalty: z.number().min(-2).max(2).default(0),
  repetition_penalty: z.number().gt(0).default(1),
  min_p: z.number().min(0).max(1).default(0),
  logit_bias: z.array(z.tuple([z.number().int().nonnegative(), z.number().min(-100).max(100)])).max(MAX_LOGIT_BIAS).default([]),
  min_tokens: z.number().int().nonnegative().default(0),
  ignore_eos: z.boolean().default(false),
  stop_token_ids: z.array(z.number().int().nonnegative()).max(MAX_STOP_TOKEN_IDS).default([]),
  // OpenAI's response_format (json_object / json_schema), checked by the gateway; the node
  // compiles it into a grammar that masks every token (src/node/grammar/). null = free text.
  response_format: z.unknown().nullable().default(null),
  // The grammar starts after this token is sampled (tool_choice auto: [TOOL_CALLS]); null =
  // from the first token.
  grammar_trigger_token: z.number().int().nonnegative().nullable().default(null),
  // batch: a Batch API line — admitted and scheduled after interactive requests (batch_runner.ts).
  priority: z.enum(['interactive', 'batch']).default('interactive'),
});
export type GenerateBody = z.infer<typeof GenerateBody>;
export type Priority = GenerateBody['priority'];

export const TokenLogprob = z.object({ token: z.number().int(), logprob: z.number() });

export const TokenEvent = z.object({
  token: z.number().int(),
  text: z.string(),
  logprob: z.number().nullable(),
  top: z.array(TokenLogprob),
});
export type TokenEvent = z.infer<typeof TokenEvent>;

export const NodeUsage = z.object({
  prompt_tokens: z.number().int().nonnegative(),
  cached_tokens: z.number().int().nonnegative(),
  completion_tokens: z.number().int().nonnegative(),
});
export type NodeUsage = z.infer<typeof NodeUsage>;

export const DoneEvent = z.object({
  finish_reason: z.enum(['stop', 'length', 'abort']),
  tail: z.string(),
  usage: NodeUsage,
});
export type DoneEvent = z.infer<typeof DoneEvent>;

export const ErrorEvent = z.object({ message: z.string() });

export const ModelInfo = z.object({
  id: z.string(),
  max_context: z.number().int().positive(),
  vocab_size: z.number().int().positive(),
  tokenizer: z.unknown(),
  tokenizer_config: z.unknown().nullable(),
  engine: z.string().optional(), // the backend and kernel table that run it: "cpu/avx512", "cpu/wasm_simd128"
});
export type ModelInfo = z.infer<typeof ModelInfo>;

export const ReadyStatus = z.object({
  ready: z.boolean(),
  model: z.string().nullable(),
  draining: z.boolean(),
  error: z.string().optional(), // why a node is not ready and will not be (a model that failed to load)
});
export type ReadyStatus = z.infer<typeof ReadyStatus>;

// GET /internal/v1/generations/:id — what the node generated for a request id (node/recent_generations.ts).
export const GenerationReport = z.object({ request_id: z.string(), completion_tokens: z.number().int().nonnegative(), finished: z.boolean() });
export type GenerationReport = z.infer<typeof GenerationReport>;
