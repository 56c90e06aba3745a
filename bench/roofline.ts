// Bytes of weights one decode step must read: the memory-bandwidth roofline of decode.
// For MoE only the top-k experts' FFN weights count (DESIGN.md §4).
import type { ModelConfig } from '../src/engine/config.ts';
import { DEFAULT_KV_DTYPE, kvRowBytes, type KvDtype } from '../src/engine/native.ts';

export function decodeBytesPerToken(c: ModelConfig, bytesPerWeight: number): number {
  const H = c.hiddenSize;
  const attention = H * c.numHeads * c.headDim * 2 + H * c.numKvHeads * c.headDim * 2;
  const ffnOne = 3 * H * c.intermediateSize;
  const ffn = c.numExperts > 0 ? c.topK * ffnOne + c.numExperts * H : ffnOne;
  const perLayer = attention + ffn;
  // lm_head streams fully; the embedding reads one row.
  return (c.numLayers * perLayer + c.vocabSize * H + H) * bytesPerWeight;
}

// Bytes of cached keys and values one decode step reads after `context` positions: every
// layer's KV heads over the window, or all of them.
export function kvBytesPerToken(c: ModelConfig, context: number, kvDtype: KvDtype = DEFAULT_KV_DTYPE): number {
  const visible = Math.min(context, c.slidingWindow ?? context);
  return c.numLayers * visible * c.numKvHeads * 2 * kvRowBytes(c.headDim, kvDtype);
}

export function paramCounts(c: ModelConfig): { total: number; active: number } {
  const H = c.hiddenSize;
  const attention = H * c.numHeads * c.headDim * 2 + H * c.numKvHeads * c.headDim * 2;
  const ffnOne = 3 * H * c.intermediateSize;
  const experts = Math.max(c.numExperts, 1);
  const embed = c.vocabSize * H * (c.tieWordEmbeddings ? 1 : 2);
  // Active per token: the embedding is one row read, not a matmul, so only lm_head counts.
  return {
    total: c.numLayers * (attention + experts * ffnOne + c.numExperts * H) + embed,
    active: c.numLayers * (attention + Math.max(c.topK, 1) * ffnOne + c.numExperts * H) + c.vocabSize * H,
  };
}
