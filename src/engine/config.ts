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
    maxPositions: c.max_position_embeddings,
    tieWordEmbeddings: c.tie_word_embeddings,
  };
}

export async function readConfig(dir: string): Promise<ModelConfig> {
  const path = join(dir, 'config.json');
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch {
    fail(path, 'not found: --model must be a Hugging Face model directory with config.json and safetensors weights');
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (err) {
    fail(path, `not valid JSON (${(err as Error).message})`);
  }
  return parseConfig(json, path);
}
