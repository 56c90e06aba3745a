// Splits a model's tensors into files: one model.safetensors, or N HF-style shards cut
// between layer groups so that each shard holds roughly total/N bytes.
import type { WeightDtype } from './make_tiny_options.ts';
import { tensorBytes } from './safetensors_write.ts';
import type { TensorSpec } from './tensor_plan.ts';

export interface WeightFile {
  file: string;
  tensors: TensorSpec[];
}

export const shardIndexFile = 'model.safetensors.index.json';

/** HF shard name: model-00002-of-00003.safetensors. */
export const shardFileName = (index: number, count: number): string =>
  `model-${String(index + 1).padStart(5, '0')}-of-${String(count).padStart(5, '0')}.safetensors`;

/** Groups consecutive tensors by their `group` (embeddings, each layer, head), in order. */
function groupTensors(tensors: readonly TensorSpec[]): TensorSpec[][] {
  const groups: TensorSpec[][] = [];
  for (const spec of tensors) {
    const last = groups[groups.length - 1];
    if (last && last[0].group === spec.group) last.push(spec);
    else groups.push([spec]);
  }
  return groups;
}

export function layoutWeightFiles(tensors: readonly TensorSpec[], dtype: WeightDtype, shardCount: number): WeightFile[] {
  if (shardCount <= 1) return [{ file: 'model.safetensors', tensors: [...tensors] }];
  const groups = groupTensors(tensors);
  if (groups.length < shardCount) throw new Error(`cannot cut ${groups.length} tensor groups into ${shardCount} shards`);
  const sizes = groups.map((g) => g.reduce((n, t) => n + tensorBytes(t, dtype), 0));
  const total = sizes.reduce((a, b) => a + b, 0);
  const shards: TensorSpec[][] = [[]];
  let before = 0; // bytes of all groups already placed
  groups.forEach((group, g) => {
    const current = shards.length - 1;
    const shardsLeftAfterCurrent = shardCount - 1 - current;
    const groupsLeft = groups.length - g;
    // Start the next shard when this group's midpoint lies past the current shard's share
    // of the bytes, or when every remaining group is needed to keep later shards non-empty.
    // E.g. groups of 128, 172, 172, 128 KB into 3 shards (cuts at 200, 400): [0] [1 2] [3].
    const pastShare = before + sizes[g] / 2 >= (total * (current + 1)) / shardCount;
    const mustCut = groupsLeft === shardsLeftAfterCurrent;
    if (shards[current].length > 0 && shardsLeftAfterCurrent > 0 && (pastShare || mustCut)) shards.push([]);
    shards[shards.length - 1].push(...group);
    before += sizes[g];
  });
  return shards.map((specs, i) => ({ file: shardFileName(i, shardCount), tensors: specs }));
}

/** The index HF loaders read to find each tensor's shard. */
export function shardIndex(files: readonly WeightFile[], dtype: WeightDtype): object {
  const weightMap: Record<string, string> = {};
  let totalSize = 0;
  for (const { file, tensors } of files) {
    for (const spec of tensors) {
      weightMap[spec.name] = file;
      totalSize += tensorBytes(spec, dtype);
    }
  }
  return { metadata: { total_size: totalSize }, weight_map: weightMap };
}
