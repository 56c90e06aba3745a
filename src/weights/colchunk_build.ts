// Building the column-chunked objects (layout in colchunks.ts) at push time, twice over the
// same bytes: once to hash them into the manifest, once more as the upload body (only if the
// stored object differs). Re-laying out is cheaper than writing a temporary copy of a third of
// the model to disk. Memory: one source tensor and its copy at a time.
import { open } from 'node:fs/promises';
import { join } from 'node:path';
import { createHash } from 'node:crypto';
import { columnLayout, colChunkObjectPath, COLCHUNK_COLS, toColumnChunks } from './colchunks.ts';
import { WeightsError } from './errors.ts';
import type { ColChunkObject, ManifestFile, ManifestTensor } from './manifest.ts';
import { hashBlocks } from './range_hashing.ts';

/** What goes into one column-chunked object: tensors of `source`, in file order. */
export type ColChunkPlan = { object: string; source: string; tensors: ManifestTensor[] };

/** One plan per weights file that holds column-split tensors (`offsets` from columnSplitOffsets). */
export function planColumnChunks(files: readonly ManifestFile[], offsets: Map<string, Set<number>>): ColChunkPlan[] {
  const plans: ColChunkPlan[] = [];
  for (const file of files) {
    const wanted = offsets.get(file.path);
    if (!wanted) continue;
    const tensors = (file.tensors ?? []).filter((t) => wanted.has(t.offset)).sort((a, b) => a.offset - b.offset);
    if (tensors.length !== wanted.size) throw new WeightsError(`${file.path}: internal: ${wanted.size} column-split tensors expected, ${tensors.length} found in its header`);
    for (const t of tensors) columnLayout(t.dtype, t.shape); // refuse an unchunkable tensor before any upload
    if (tensors.length > 0) plans.push({ object: colChunkObjectPath(file.path), source: file.path, tensors });
  }
  return plans;
}

/** The object's bytes, one re-laid-out tensor per piece. */
export async function* colChunkBytes(dir: string, plan: ColChunkPlan): AsyncGenerator<Buffer> {
  const handle = await open(join(dir, plan.source), 'r');
  try {
    for (const t of plan.tensors) {
      const src = Buffer.allocUnsafe(t.bytes);
      for (let done = 0; done < t.bytes; ) {
        const { bytesRead } = await handle.read(src, done, t.bytes - done, t.offset + done);
        if (bytesRead === 0) throw new WeightsError(`${join(dir, plan.source)}: ended inside tensor ${t.name}; the file changed during the push`);
        done += bytesRead;
      }
      yield toColumnChunks(src, columnLayout(t.dtype, t.shape, COLCHUNK_COLS));
    }
  } finally {
    await handle.close();
  }
}

/** The manifest entry of one column-chunked object: whole sha256 and each tensor's blocks. */
export async function hashColumnChunks(dir: string, plan: ColChunkPlan, blockBytes: number, onBytes?: (bytes: number) => void): Promise<ColChunkObject> {
  const whole = createHash('sha256');
  const tensors: ColChunkObject['tensors'] = [];
  let offset = 0;
  let index = 0;
  for await (const bytes of colChunkBytes(dir, plan)) {
    const t = plan.tensors[index++]!;
    whole.update(bytes);
    tensors.push({ name: t.name, offset, bytes: bytes.length, chunk_cols: COLCHUNK_COLS, blocks: hashBlocks(bytes, blockBytes) });
    offset += bytes.length;
    onBytes?.(bytes.length);
  }
  return { object: plan.object, source: plan.source, size: offset, sha256: whole.digest('hex'), tensors };
}

/** The plan behind a manifest's column-chunked object, to regenerate its bytes for upload. */
export function planOf(files: readonly ManifestFile[], entry: ColChunkObject): ColChunkPlan {
  const source = files.find((f) => f.path === entry.source);
  const byName = new Map((source?.tensors ?? []).map((t) => [t.name, t]));
  const tensors = entry.tensors.map((t) => {
    const found = byName.get(t.name);
    if (!found) throw new WeightsError(`${entry.object}: internal: tensor ${t.name} is not in ${entry.source}`);
    return found;
  });
  return { object: entry.object, source: entry.source, tensors };
}
