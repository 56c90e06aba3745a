// config.json (Hugging Face MistralForCausalLM / MixtralForCausalLM) → the engine's ModelConfig.
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { z } from 'zod';
import { ModelLoadError } from './errors.ts';

const positiveInt = z.number().int().positive();

const HfConfig = z.looseObject({
  architectures: z.array(z.string()).min(1),
  hidden_size: positiveInt,
  intermediate_size: positiveInt,
  num_hidden_layers: positiveInt,
  num_attention_heads: positiveInt,
  num_key_value_heads: positiveInt.optional(),
  head_dim: positiveInt.nullish(),
  vocab_size: positiveInt,
  rms_norm_eps: z.number().positive(),
  rope_theta: z.number().positive().default(10000),
  sliding_window: positiveInt.nullish(),
  max_position_embeddings: positiveInt.default(32768),
  tie_word_embeddings: z.boolean().default(false),
  num_local_experts: positiveInt.optional(),
  num_experts_per_tok: positiveInt.optional(),
});

export const ARCHITECTURES = ['MistralForCausalLM', 'MixtralForCausalLM'] as const;

export const ModelConfig = z.object({
  architecture: z.enum(ARCHITECTURES),
  vocabSize: positiveInt,
  hiddenSize: positiveInt,
  intermediateSize: positiveInt,
  numLayers: positiveInt,
  numHeads: positiveInt,
  numKvHeads: positiveInt,
  headDim: positiveInt,
  numExperts: z.number().int().nonnegative(), // 0 = dense SwiGLU
  topK: z.number().int().nonnegative(),
  slidingWindow: positiveInt.nullable(), // null = full causal attention
  rmsEps: z.number().positive(),
  ropeTheta: z.number().positive(),
  // 'half': HF rotate_half pairs (x[k], x[k+D/2]); 'interleaved': Mistral's native (x[2k], x[2k+1]).
  ropeLayout: z.enum(['half', 'interleaved']),
  maxPositions: positiveInt,
  tieWordEmbeddings: z.boolean(),
});
export type ModelConfig = z.infer<typeof ModelConfig>;

function fail(path: string, message: string): never {
  throw new ModelLoadError(`${path}: ${message}`);
}

export function parseConfig(json: unknown, path = 'config.json'): ModelConfig {
  const parsed = HfConfig.safeParse(json);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    fail(path, `field '${issue.path.join('.')}': ${issue.message}`);
  }
  const c = parsed.data;
  const architecture = ARCHITECTURES.find((a) => c.architectures.includes(a));
  if (!architecture) fail(path, `architectures ${JSON.stringify(c.architectures)}: supported are ${ARCHITECTURES.join(', ')}`);
  const numKvHeads = c.num_key_value_heads ?? c.num_attention_heads;
  if (c.num_attention_heads % numKvHeads !== 0)
    fail(path, `num_attention_heads=${c.num_attention_heads} is not a multiple of num_key_value_heads=${numKvHeads}`);
  const headDim = c.head_dim ?? c.hidden_size / c.num_attention_heads;
  if (!Number.isInteger(headDim) || headDim % 2 !== 0)
    fail(path, `head_dim=${headDim} must be an even integer (RoPE rotates pairs)`);
  let numExperts = 0;
  let topK = 0;
  if (architecture === 'MixtralForCausalLM') {
    if (c.num_local_experts === undefined || c.num_experts_per_tok === undefined)
      fail(path, 'MixtralForCausalLM needs num_local_experts and num_experts_per_tok');
    if (c.num_experts_per_tok > c.num_local_experts)
      fail(path, `num_experts_per_tok=${c.num_experts_per_tok} exceeds num_local_experts=${c.num_local_experts}`);
    numExperts = c.num_local_experts;
    topK = c.num_experts_per_tok;
  }
  return {
    architecture,
    vocabSize: c.vocab_size,
    hiddenSize: c.hidden_size,
    intermediateSize: c.intermediate_size,
    numLayers: c.num_hidden_layers,
    numHeads: c.num_attention_heads,
    numKvHeads,
    headDim,
    numExperts,
    topK,
    slidingWindow: c.sliding_window ?? null,
    rmsEps: c.rms_norm_eps,
    ropeTheta: c.rope_theta,
    ropeLayout: 'half',
    maxPositions: c.max_position_embeddings,
    tieWordEmbeddings: c.tie_word_embeddings,
  };
}

// params.json of Mistral's own checkpoints (mistral-inference ModelArgs).
const MistralParams = z.looseObject({
  dim: positiveInt,
  n_layers: positiveInt,
  head_dim: positiveInt.optional(),
  hidden_dim: positiveInt,
  n_heads: positiveInt,
  n_kv_heads: positiveInt,
  norm_eps: z.number().positive(),
  vocab_size: positiveInt,
  rope_theta: z.number().positive().default(10000),
  sliding_window: positiveInt.nullish(),
  max_seq_len: positiveInt.optional(),
  moe: z.object({ num_experts: positiveInt, num_experts_per_tok: positiveInt }).nullish(),
});

export function parseMistralParams(json: unknown, path = 'params.json'): ModelConfig {
  const parsed = MistralParams.safeParse(json);
  if (!parsed.success) fail(path, `field '${parsed.error.issues[0]!.path.join('.')}': ${parsed.error.issues[0]!.message}`);
  const p = parsed.data;
  // Same checks as an HF config: express it as one and reuse them.
  const hf = parseConfig(
    {
      architectures: [p.moe ? 'MixtralForCausalLM' : 'MistralForCausalLM'],
      hidden_size: p.dim,
      intermediate_size: p.hidden_dim,
      num_hidden_layers: p.n_layers,
      num_attention_heads: p.n_heads,
      num_key_value_heads: p.n_kv_heads,
      head_dim: p.head_dim ?? null,
      vocab_size: p.vocab_size,
      rms_norm_eps: p.norm_eps,
      rope_theta: p.rope_theta,
      sliding_window: p.sliding_window ?? null,
      max_position_embeddings: p.max_seq_len ?? 32768,
      tie_word_embeddings: false,
      ...(p.moe ? { num_local_experts: p.moe.num_experts, num_experts_per_tok: p.moe.num_experts_per_tok } : {}),
    },
    path,
  );
  return { ...hf, ropeLayout: 'interleaved' };
}

async function readJsonFile(path: string, missing: string): Promise<unknown> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch {
    fail(path, missing);
  }
  try {
    return JSON.parse(text);
  } catch (err) {
    fail(path, `not valid JSON (${(err as Error).message})`);
  }
}

export async function readConfig(dir: string): Promise<ModelConfig> {
  const path = join(dir, 'config.json');
  const json = await readJsonFile(path, 'not found: --model must be a Hugging Face model directory (config.json + safetensors) or a Mistral one (params.json + consolidated.safetensors)');
  return parseConfig(json, path);
}

export async function readMistralParams(dir: string): Promise<ModelConfig> {
  const path = join(dir, 'params.json');
  return parseMistralParams(await readJsonFile(path, 'not found'), path);
}
