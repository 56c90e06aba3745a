// A tensor-parallel cold start from S3 (DESIGN.md §1, weights from S3): the config and tokenizer
// files are fetched as usual, the safetensors headers alone (verified), and then each shard
// fetches only the byte ranges of its own slices — plus the small tensors every shard holds —
// with every block verified before use. Each slice goes into its shard the moment its last
// block is verified, so loading overlaps downloading.
import type { S3Client } from '@aws-sdk/client-s3';
import { access } from 'node:fs/promises';
import { relative } from 'node:path';
import { Engine } from '../engine/engine.ts';
import type { ModelConfig } from '../engine/config.ts';
import { loadModelFiles, readModelConfig, tensorLocations, type ModelFiles, type TensorLocation } from '../engine/model_files.ts';
import type { EngineOptions, NativeSlice } from '../engine/native.ts';
import type { SafetensorsTensor } from '../engine/safetensors.ts';
import { WeightsError } from './errors.ts';
import { fetchSafetensorsHeader } from './fetch_header.ts';
import { fetchModel, newFetchStats, type FetchStats } from './fetch_model.ts';
import { fetchTensorSlices, type SliceRequest } from './fetch_slices.ts';
import { isS3Uri, parseS3Uri, s3ClientFromEnv } from './s3_location.ts';
import { SliceCache } from './slice_cache.ts';
import type { ProgressSink } from './transfer_progress.ts';

export type ShardDownload = { shard: number; downloadedBytes: number; cachedBytes: number; sliceBytes: number; seconds: number };
export type ShardedLoad = { engine: Engine; dir: string; shards: ShardDownload[]; seconds: number };
export type ShardedLoadOptions = { cacheDir?: string; client?: S3Client; stats?: FetchStats; progress?: ProgressSink | null };

// Column slices are fetched from the column-chunked copies in blocks of 32 columns; a split
// off that grid (tiny models' heads) takes whole rows and keeps its columns here.
const COLUMN_GRID = 32;

function requestFor(slice: NativeSlice, t: TensorLocation): { request: SliceRequest; cut: boolean } {
  const [rows, cols] = [t.shape.length === 2 ? t.shape[0]! : 1, t.shape.at(-1)!];
  const request: SliceRequest = { tensor: t.name };
  if (slice.rows[0] !== 0 || slice.rows[1] !== rows) request.rows = slice.rows;
  const partialCols = slice.cols[0] !== 0 || slice.cols[1] !== cols;
  const onGrid = slice.cols[0] % COLUMN_GRID === 0 && (slice.cols[1] % COLUMN_GRID === 0 || slice.cols[1] === cols);
  if (partialCols && onGrid) request.cols = slice.cols;
  return { request, cut: partialCols && !onGrid };
}

// Columns [c0, c1) of whole rows (n rows of `cols` elements) → the slice's bytes.
function cutColumns(bytes: Buffer, slice: NativeSlice, cols: number): Buffer {
  const n = slice.rows[1] - slice.rows[0];
  const width = slice.cols[1] - slice.cols[0];
  const element = slice.bytes / (n * width); // float dtypes only: quantized splits are on the grid
  const out = Buffer.alloc(slice.bytes);
  for (let r = 0; r < n; r++) bytes.copy(out, r * width * element, (r * cols + slice.cols[0]) * element, (r * cols + slice.cols[1]) * element);
  return out;
}

async function remoteModelFiles(dir: string, headers: Map<string, SafetensorsTensor[]>): Promise<ModelFiles> {
  const local = (p: string) => access(p).then(() => true, () => false);
  return loadModelFiles(dir, {
    exists: async (p) => headers.has(relative(dir, p)) || local(p),
    read: async (p) => {
      const tensors = headers.get(relative(dir, p));
      if (!tensors) throw new WeightsError(`${p}: not a weights file of the manifest`);
      return tensors;
    },
  });
}

// Engine options may depend on the model (a node sizes its K/V pool from the config), which a
// remote model only has once its config file arrived.
export type EngineOptionsFor = EngineOptions | ((config: ModelConfig) => EngineOptions);
const optionsFor = (o: EngineOptionsFor, config: ModelConfig): EngineOptions => (typeof o === 'function' ? o(config) : o);

export async function loadShardedFromS3(uri: string, engineOptions: EngineOptionsFor, options: ShardedLoadOptions = {}): Promise<ShardedLoad> {
  const started = performance.now();
  const location = parseS3Uri(uri);
  const client = options.client ?? s3ClientFromEnv({ maxAttempts: 1 });
  const stats = options.stats ?? newFetchStats(uri);
  const sink = options.progress === undefined ? process.stderr : options.progress;
  const { dir, manifest } = await fetchModel(uri, { only: (f) => f.kind !== 'weights', cacheDir: options.cacheDir, client, stats, progress: options.progress });
  stats.done = false; // the weights are still to come
  if (manifest.version < 2)
    throw new WeightsError(`${uri}: its manifest (version ${manifest.version}) cannot verify partial fetches: push the model again with this sirocco, or use --tp 1`);
  const weightFiles = manifest.model.files.filter((f) => f.kind === 'weights');
  const headers = new Map(
    await Promise.all(weightFiles.map(async (f) => [f.path, (await fetchSafetensorsHeader(location, manifest, f.path, { client })).tensors] as const)),
  );
  const model = await remoteModelFiles(dir, headers);
  const byPlace = new Map(tensorLocations(model).map((t) => [`${t.file}:${t.offset}`, t]));

  const engine = Engine.deferred(model, optionsFor(engineOptions, model.config));
  const cache = new SliceCache(dir);
  try {
    const plan = engine.loadPlan().map((slice, index) => ({ slice, index, tensor: byPlace.get(`${slice.file}:${slice.offset}`)! }));
    stats.totalBytes += plan.reduce((n, p) => n + p.slice.bytes, 0);
    const tp = Math.max(...plan.map((p) => p.slice.shard)) + 1;
    const shards = await Promise.all(
      Array.from({ length: tp }, async (_, shard): Promise<ShardDownload> => {
        const t0 = performance.now();
        const key = ({ slice, tensor }: (typeof plan)[number]) => ({ tensor: tensor.name, rows: slice.rows, cols: slice.cols });
        const missing: typeof plan = [];
        let cachedBytes = 0;
        for (const p of plan.filter((p) => p.slice.shard === shard)) {
          const bytes = await cache.read(key(p));
          if (!bytes) {
            missing.push(p);
            continue;
          }
          engine.loadSlice(p.index, bytes);
          cachedBytes += bytes.length;
        }
        stats.cachedBytes += cachedBytes;
        const asks = missing.map((p) => requestFor(p.slice, p.tensor));
        const fetched = await fetchTensorSlices(location, manifest, asks.map((a) => a.request), {
          client,
          onSlice: async (_request, bytes, i) => {
            const p = missing[i]!;
            const slice = asks[i]!.cut ? cutColumns(bytes, p.slice, p.tensor.shape.at(-1)!) : bytes;
            engine.loadSlice(p.index, slice);
            stats.verifiedBytes += slice.length;
            await cache.write(key(p), slice);
          },
        });
        stats.receivedBytes += fetched.downloadedBytes;
        const sliceBytes = plan.filter((p) => p.slice.shard === shard).reduce((n, p) => n + p.slice.bytes, 0);
        return { shard, downloadedBytes: fetched.downloadedBytes, cachedBytes, sliceBytes, seconds: (performance.now() - t0) / 1000 };
      }),
    );
    engine.finishLoad();
    stats.done = true;
    const seconds = (performance.now() - started) / 1000;
    stats.seconds = seconds;
    for (const s of shards)
      sink?.write(
        `shard ${s.shard}/${tp}: ${(s.downloadedBytes / 1e6).toFixed(1)} MB downloaded, ${(s.cachedBytes / 1e6).toFixed(1)} MB from the local cache, ` +
          `for ${(s.sliceBytes / 1e6).toFixed(1)} MB of slices in ${s.seconds.toFixed(2)} s\n`,
      );
    return { engine, dir, shards, seconds };
  } catch (err) {
    await engine.close();
    throw err;
  }
}

// Where --model and --tp lead: a sharded S3 cold start, or the whole model resolved locally.
export async function openEngine(
  uri: string,
  tp: number,
  engineOptions: EngineOptionsFor,
  resolveDir: (uri: string) => Promise<string>,
  options: ShardedLoadOptions = {},
): Promise<{ engine: Engine; dir: string }> {
  if (isS3Uri(uri) && tp > 1) return loadShardedFromS3(uri, (c) => ({ ...optionsFor(engineOptions, c), tp }), options);
  const dir = await resolveDir(uri);
  return { engine: await Engine.load(dir, { ...optionsFor(engineOptions, await readModelConfig(dir)), tp }), dir };
}
