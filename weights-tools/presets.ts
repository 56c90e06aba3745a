// Named model shapes for `sirocco make-tiny`. The tiny presets exercise every code path
// (GQA, head_dim ≠ hidden/heads, sliding window, MoE) in milliseconds; sirocco-default is the
// model served out of the box; the mini presets are the benchmark shapes of DESIGN.md §4.
// 32000-vocab presets get the real Mistral v1 tokenizer, 32768-vocab ones the v3 tokenizer with
// tool calling (weights-tools/tokenizer_files.ts).

/** Everything that fixes the tensors and config of a generated model (dtype aside). */
export interface ModelShape {
  hidden: number;
  intermediate: number;
  layers: number;
  heads: number;
  kvHeads: number;
  headDim: number;
  vocab: number;
  /** Number of MoE experts; 0 means a dense Mistral FFN. */
  experts: number;
  /** Experts per token; 0 for dense models. */
  topK: number;
  /** Sliding window W (keys seen, itself included), or null for full causal attention. */
  window: number | null;
  ropeTheta: number;
  eps: number;
  /** Tied embeddings: no `lm_head.weight`, the engine reuses `embed_tokens`. */
  tie: boolean;
  maxPositions: number;
}

const maxPositions = 32768;

export const presets = {
  // 8 query heads over 4 KV heads: GQA, and tensor-parallel splits of 2 and 4 (--tp N must
  // divide the KV heads).
  'mistral-tiny': {
    hidden: 64, intermediate: 160, layers: 2, heads: 8, kvHeads: 4, headDim: 16, vocab: 512,
    experts: 0, topK: 0, window: 8, ropeTheta: 10000, eps: 1e-6, tie: false, maxPositions,
  },
  // head_dim 24 ≠ 64/8 on purpose: catches engines that derive head_dim from hidden/heads.
  // intermediate 128 = 4 blocks of 32, so --tp 4 can split the experts' columns.
  'mixtral-tiny': {
    hidden: 64, intermediate: 128, layers: 2, heads: 8, kvHeads: 4, headDim: 24, vocab: 512,
    experts: 4, topK: 2, window: 12, ropeTheta: 1e6, eps: 1e-5, tie: false, maxPositions,
  },
  'mixtral-mini': {
    hidden: 1024, intermediate: 3584, layers: 16, heads: 16, kvHeads: 4, headDim: 64, vocab: 32000,
    experts: 8, topK: 2, window: null, ropeTheta: 1e6, eps: 1e-5, tie: false, maxPositions,
  },
  // What `npm start` serves: small enough to generate in about a second and to answer
  // quickly on 2 cores, but with the real Mistral v3 vocab (32768) so prompts tokenize as
  // they would for Mistral-7B-Instruct-v0.3 and tools work, and every Mixtral feature (GQA
  // 8:2, 8 experts top-2).
  'sirocco-default': {
    hidden: 256, intermediate: 512, layers: 4, heads: 8, kvHeads: 2, headDim: 32, vocab: 32768,
    experts: 8, topK: 2, window: null, ropeTheta: 1e6, eps: 1e-5, tie: false, maxPositions: 4096,
  },
  'mistral-mini': {
    hidden: 2048, intermediate: 5632, layers: 16, heads: 16, kvHeads: 4, headDim: 128, vocab: 32000,
    experts: 0, topK: 0, window: 4096, ropeTheta: 1e4, eps: 1e-6, tie: false, maxPositions,
  },
} as const satisfies Record<string, ModelShape>;

export type PresetName = keyof typeof presets;

export const presetNames = Object.keys(presets) as [PresetName, ...PresetName[]];
