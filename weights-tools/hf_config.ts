// config.json in the Hugging Face transformers format (MistralConfig / MixtralConfig).
import type { WeightDtype } from './make_tiny_options.ts';
import type { ModelShape } from './presets.ts';

const torchDtype: Record<WeightDtype, string> = { f32: 'float32', f16: 'float16', bf16: 'bfloat16' };

export function hfConfig(s: ModelShape, dtype: WeightDtype): Record<string, unknown> {
  const isMoe = s.experts > 0;
  return {
    architectures: [isMoe ? 'MixtralForCausalLM' : 'MistralForCausalLM'],
    model_type: isMoe ? 'mixtral' : 'mistral',
    hidden_size: s.hidden,
    intermediate_size: s.intermediate,
    num_hidden_layers: s.layers,
    num_attention_heads: s.heads,
    num_key_value_heads: s.kvHeads,
    head_dim: s.headDim,
    vocab_size: s.vocab,
    rms_norm_eps: s.eps,
    rope_theta: s.ropeTheta,
    sliding_window: s.window,
    max_position_embeddings: s.maxPositions,
    tie_word_embeddings: s.tie,
    ...(isMoe ? { num_local_experts: s.experts, num_experts_per_tok: s.topK } : {}),
    hidden_act: 'silu',
    torch_dtype: torchDtype[dtype],
    bos_token_id: 1,
    eos_token_id: 2,
  };
}
