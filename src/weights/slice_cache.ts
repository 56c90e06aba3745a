// Verified tensor slices of a sharded cold start (shard_load.ts), kept with the model's other
// cached files (a directory per manifest), so a restarted node loads its shards' slices from
// disk instead of downloading them again. Each slice is written atomically next to the sha256
// of its bytes; one whose bytes no longer match is dropped and fetched again.
import { createHash } from 'node:crypto';
import { readFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { writeFileAtomic } from './download_cache.ts';

export const SLICE_DIR = '.sirocco-slices';

// A slice: rows [r0, r1) × columns [c0, c1) of a stored tensor.
export type SliceKey = { tensor: string; rows: [number, number]; cols: [number, number] };

const sha256 = (bytes: Uint8Array) => createHash('sha256').update(bytes).digest('hex');

export class SliceCache {
  private readonly dir: string;

  constructor(modelDir: string) {
    this.dir = join(modelDir, SLICE_DIR);
  }

  // model.layers.0.mlp.down_proj.weight, rows 0..256, cols 512..1024 → model.layers.0.mlp.down_proj.weight@0-256@512-1024
  private path(k: SliceKey): string {
    return join(this.dir, `${k.tensor.replace(/[^A-Za-z0-9._-]/g, '_')}@${k.rows.join('-')}@${k.cols.join('-')}`);
  }

  async read(k: SliceKey): Promise<Buffer | null> {
    const path = this.path(k);
    const [bytes, hash] = await Promise.all([readFile(`${path}.bin`).catch(() => null), readFile(`${path}.sha256`, 'utf8').catch(() => null)]);
    if (bytes && hash?.trim() === sha256(bytes)) return bytes;
    if (bytes || hash) await Promise.all([rm(`${path}.bin`, { force: true }), rm(`${path}.sha256`, { force: true })]);
    return null;
  }

  // The bytes first, then their hash: a crash in between leaves a slice that read() drops.
  async write(k: SliceKey, bytes: Uint8Array): Promise<void> {
    const path = this.path(k);
    await writeFileAtomic(`${path}.bin`, bytes);
    await writeFileAtomic(`${path}.sha256`, sha256(bytes) + '\n');
  }
}
