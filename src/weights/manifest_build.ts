// Building a version-2 manifest from a model directory: every file is read once, and that one
// pass gives the file's sha256, its chunks' sha256 and, for weights files, the header's and
// every tensor block's sha256 (range_hashing.ts). Then the column-chunked copies are hashed
// (colchunk_build.ts). Nothing is uploaded here.
import { createReadStream } from 'node:fs';
import { readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { readSafetensorsHeader, type SafetensorsTensor } from '../engine/safetensors.ts';
import { hashChunkedStream } from './chunk_hashing.ts';
import { hashColumnChunks, planColumnChunks } from './colchunk_build.ts';
import { columnSplitOffsets } from './colchunks.ts';
import { WeightsError } from './errors.ts';
import {
  DEFAULT_BLOCK_BYTES, DEFAULT_CHUNK_SIZE, fileKind, listModelFiles, Manifest, MANIFEST_VERSION,
  type ColChunkObject, type ManifestFile, type ManifestTensor,
} from './manifest.ts';
import { RangeBlockHasher, safetensorsRanges, teeStream } from './range_hashing.ts';

async function readModelConfig(dir: string): Promise<Record<string, unknown>> {
  for (const name of ['config.json', 'params.json']) {
    let text: string;
    try {
      text = await readFile(join(dir, name), 'utf8');
    } catch {
      continue;
    }
    let json: unknown;
    try {
      json = JSON.parse(text);
    } catch (err) {
      throw new WeightsError(`${join(dir, name)}: not valid JSON (${(err as Error).message})`);
    }
    if (typeof json === 'object' && json !== null && !Array.isArray(json)) return json as Record<string, unknown>;
    throw new WeightsError(`${join(dir, name)}: expected a JSON object`);
  }
  throw new WeightsError(`${dir}: not a model directory (no config.json or params.json)`);
}

export type BuildManifestOptions = {
  chunkSize?: number; // default 64 MiB
  blockBytes?: number; // tensor block size, default 1 MiB
  /** Called as files are hashed: bytes done so far out of the total (files plus column-chunked copies). */
  onProgress?: (doneBytes: number, totalBytes: number) => void;
};

const positiveInt = (what: string, n: number) => {
  if (!Number.isSafeInteger(n) || n < 1) throw new WeightsError(`${what} must be a positive integer, got ${n}`);
  return n;
};

type Weights = { tensors: SafetensorsTensor[]; headerBytes: number };

export async function buildManifest(dir: string, options: BuildManifestOptions = {}): Promise<Manifest> {
  const chunkSize = positiveInt('chunk size', options.chunkSize ?? DEFAULT_CHUNK_SIZE);
  const blockBytes = positiveInt('block size', options.blockBytes ?? DEFAULT_BLOCK_BYTES);
  const config = await readModelConfig(dir);
  const paths = await listModelFiles(dir);
  const sizes = await Promise.all(paths.map(async (p) => (await stat(join(dir, p))).size));
  const weights = new Map<string, Weights>();
  for (const [i, path] of paths.entries()) {
    if (fileKind(path) !== 'weights') continue;
    const tensors = await readSafetensorsHeader(join(dir, path));
    weights.set(path, { tensors, headerBytes: tensors.length > 0 ? Math.min(...tensors.map((t) => t.offset)) : sizes[i]! });
  }
  // Planned from headers alone, so the progress total is known before the first byte is hashed.
  const bare = paths.map((path): ManifestFile => ({ path, kind: fileKind(path), size: 0, sha256: '', chunk_size: chunkSize, chunks: [], tensors: weights.get(path)?.tensors }));
  const plans = weights.size > 0 ? planColumnChunks(bare, await columnSplitOffsets(dir)) : [];
  const total = sizes.reduce((a, b) => a + b, 0) + plans.reduce((n, p) => n + p.tensors.reduce((m, t) => m + t.bytes, 0), 0);
  let done = 0;
  const onBytes = (bytes: number) => options.onProgress?.((done += bytes), total);

  const files: ManifestFile[] = [];
  for (const path of paths) {
    const w = weights.get(path);
    const layout = w ? safetensorsRanges(w.headerBytes, w.tensors, blockBytes) : null;
    const ranges = layout ? new RangeBlockHasher(layout.ranges) : null;
    const stream = createReadStream(join(dir, path), { highWaterMark: 4 << 20 });
    const hashed = await hashChunkedStream(ranges ? teeStream(stream, (p) => ranges.update(p)) : stream, chunkSize, onBytes);
    const file: ManifestFile = { path, kind: fileKind(path), size: hashed.size, sha256: hashed.sha256, chunk_size: chunkSize, chunks: hashed.chunks };
    if (w && layout && ranges) {
      const hashes = layout.hashesOf(ranges.digest());
      file.header = { bytes: w.headerBytes, sha256: hashes.header };
      file.tensors = w.tensors.map((t, i): ManifestTensor => ({ name: t.name, dtype: t.dtype, shape: t.shape, offset: t.offset, bytes: t.bytes, blocks: hashes.tensors[i]! }));
    }
    files.push(file);
  }
  const colchunks: ColChunkObject[] = [];
  for (const plan of plans) colchunks.push(await hashColumnChunks(dir, plan, blockBytes, onBytes));
  return Manifest.parse({ version: MANIFEST_VERSION, created_at: new Date().toISOString(), model: { config, block_bytes: blockBytes, files, colchunks } });
}
