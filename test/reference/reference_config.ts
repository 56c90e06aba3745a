// The config.json fields the float64 reference needs, validated with zod.
import { z } from 'zod';

const positiveInt = z.number().int().positive();

export const referenceConfigSchema = z
  .object({
    hidden_size: positiveInt,
    intermediate_size: positiveInt,
    num_hidden_layers: positiveInt,
    num_attention_heads: positiveInt,
    num_key_value_heads: positiveInt,
    head_dim: positiveInt.nullish(),
    vocab_size: positiveInt,
    rms_norm_eps: z.number().positive(),
    rope_theta: z.number().positive(),
    sliding_window: positiveInt.nullish(),
    tie_word_embeddings: z.boolean().default(false),
    num_local_experts: z.number().int().nonnegative().nullish(),
    num_experts_per_tok: z.number().int().nonnegative().nullish(),
  })
  .transform((c) => ({
    hidden: c.hidden_size,
    intermediate: c.intermediate_size,
    layers: c.num_hidden_layers,
    heads: c.num_attention_heads,
    kvHeads: c.num_key_value_heads,
    // head_dim may differ from hidden/heads; only fall back when the config omits it.
    headDim: c.head_dim ?? c.hidden_size / c.num_attention_heads,
    vocab: c.vocab_size,
    eps: c.rms_norm_eps,
    ropeTheta: c.rope_theta,
    window: c.sliding_window ?? null,
    tie: c.tie_word_embeddings,
    experts: c.num_local_experts ?? 0,
    topK: c.num_experts_per_tok ?? 0,
  }));

export type ReferenceConfig = z.infer<typeof referenceConfigSchema>;
