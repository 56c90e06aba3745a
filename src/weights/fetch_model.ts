// Cold start from S3: manifest.json first, then every file not already verified in the local
// cache, as parallel verified chunk downloads (fetch_file.ts). Returns only once every byte
// on disk has been checked against the manifest; any checksum mismatch, missing object or
// object changed mid-download rejects with an error that names the file and chunk.
import { GetObjectCommand, HeadObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { createHash } from 'node:crypto';
import { mkdir, rm, stat, statfs } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { cachedModelDir, cacheRoot, isMarkedVerified, markVerified, syncDir, writeFileAtomic } from './download_cache.ts';
import { lockModelDir } from './download_lock.ts';
import { WeightsError } from './errors.ts';
import { fetchFile, type ChunkEvent, type FileFetchContext, type RemoteObject } from './fetch_file.ts';
import { Limiter } from './limiter.ts';
import { hashLocalFile } from './local_verify.ts';
import { MANIFEST_FILE, parseManifest, type Manifest, type ManifestFile } from './manifest.ts';
import { asWeightsError, classifyS3Error, withRetry, type RetryOptions } from './s3_errors.ts';
import { formatS3Uri, objectKey, parseS3Uri, s3ClientFromEnv, type S3Location } from './s3_location.ts';
import { TransferProgress, type ProgressSink } from './transfer_progress.ts';

/** Live counters of one fetch, updated in place (a node exports them as metrics). */
export type FetchStats = {
  uri: string;
  totalBytes: number; // the whole model
  cachedBytes: number; // already verified on disk before this run (whole files and resumed chunks)
  receivedBytes: number; // off the network in this run, retried attempts included
  verifiedBytes: number; // received in this run and checksum-verified
  chunksTotal: number;
  chunksVerified: number;
  chunksReused: number;
  retries: number;
  filesTotal: number;
  filesReady: number;
  seconds: number;
  done: boolean;
};

export const newFetchStats = (uri: string): FetchStats => ({
  uri, totalBytes: 0, cachedBytes: 0, receivedBytes: 0, verifiedBytes: 0, chunksTotal: 0, chunksVerified: 0,
  chunksReused: 0, retries: 0, filesTotal: 0, filesReady: 0, seconds: 0, done: false,
});

export type FetchModelOptions = {
  /** Cache root (default SIROCCO_CACHE_DIR, else ~/.cache/sirocco/models); ignored with `into`. */
  cacheDir?: string;
  /** Download into exactly this directory instead of the cache (`sirocco weights pull`). */
  into?: string;
  /** Only the manifest's files this accepts (default all): a sharded cold start takes the
   *  config and tokenizer files and fetches tensor slices itself (load_from_s3.ts). */
  only?: (file: ManifestFile) => boolean;
  /** Parallel ranged GETs (default 8). */
  concurrency?: number;
  client?: S3Client;
  /** Where progress lines go (default stderr); null for none. */
  progress?: ProgressSink | null;
  /** Counters to update in place; a fresh object otherwise. Returned either way. */
  stats?: FetchStats;
  onChunk?: (event: ChunkEvent, stats: FetchStats) => void;
  onFileReady?: (path: string, stats: FetchStats) => void;
  signal?: AbortSignal;
  retry?: Omit<RetryOptions, 'signal' | 'onRetry'>;
};

export type FetchedModel = { dir: string; manifest: Manifest; manifestSha256: string; stats: FetchStats };

export async function readRemoteManifest(client: S3Client, location: S3Location, signal?: AbortSignal): Promise<{ manifest: Manifest; text: string; sha256: string }> {
  const uri = formatS3Uri(location, MANIFEST_FILE);
  let text: string;
  try {
    text = await withRetry(async () => {
      const response = await client.send(new GetObjectCommand({ Bucket: location.bucket, Key: objectKey(location, MANIFEST_FILE) }), { abortSignal: signal });
      return (await response.Body?.transformToString('utf8')) ?? '';
    }, { signal });
  } catch (err) {
    if (classifyS3Error(err) === 'not-found')
      throw new WeightsError(`${uri}: no manifest: ${formatS3Uri(location)} is not a pushed model, or its push has not finished: run 'sirocco weights push DIR ${formatS3Uri(location)}'`);
    throw asWeightsError(err, uri);
  }
  return { manifest: parseManifest(text, uri), text, sha256: createHash('sha256').update(text).digest('hex') };
}

/** A finished file from an earlier run, or one left without its marker by a crash after rename. */
async function alreadyVerified(dir: string, file: ManifestFile): Promise<boolean> {
  const path = join(dir, file.path);
  const size = await stat(path).then((s) => s.size, () => null);
  if (size === null) return false;
  if (size === file.size && (await isMarkedVerified(dir, file))) return true;
  if (size === file.size && (await hashLocalFile(path)) === file.sha256) {
    await markVerified(dir, file);
    return true;
  }
  await rm(path, { force: true });
  return false;
}

async function headObject(client: S3Client, location: S3Location, file: ManifestFile, signal: AbortSignal): Promise<RemoteObject> {
  const key = objectKey(location, file.path);
  const uri = formatS3Uri(location, file.path);
  try {
    const head = await withRetry(() => client.send(new HeadObjectCommand({ Bucket: location.bucket, Key: key }), { abortSignal: signal }), { signal });
    if (head.ContentLength !== undefined && head.ContentLength !== file.size)
      throw new WeightsError(`${uri}: the object has ${head.ContentLength} bytes but the manifest says ${file.size}: it was overwritten after the push; push the model again`);
    if (!head.ETag) throw new WeightsError(`${uri}: the store sent no ETag, so a change during download could not be detected; use an S3-compatible store that sends ETags`);
    return { uri, bucket: location.bucket, key, etag: head.ETag };
  } catch (err) {
    if (classifyS3Error(err) === 'not-found')
      throw new WeightsError(`${uri}: missing object (listed in the manifest as ${file.path}): the model in storage is incomplete; push it again`);
    throw asWeightsError(err, uri);
  }
}

async function checkFreeSpace(dir: string, bytes: number): Promise<void> {
  const fs = await statfs(dir).catch(() => null);
  if (fs === null) return; // unknown: let the writes report it
  const free = fs.bavail * fs.bsize;
  if (free < bytes)
    throw new WeightsError(`${dir}: ${(bytes / 1e9).toFixed(2)} GB to download but only ${(free / 1e9).toFixed(2)} GB free: free some space or set SIROCCO_CACHE_DIR to a bigger disk`);
}

export async function fetchModel(uri: string, options: FetchModelOptions = {}): Promise<FetchedModel> {
  const location = parseS3Uri(uri);
  const client = options.client ?? s3ClientFromEnv({ maxAttempts: 1 }); // we retry ourselves, per chunk
  const stats = options.stats ?? newFetchStats(uri);
  const sink = options.progress === undefined ? process.stderr : options.progress;
  const started = performance.now();
  const abort = new AbortController();
  const signal = options.signal ? AbortSignal.any([options.signal, abort.signal]) : abort.signal;

  const { manifest, text, sha256 } = await readRemoteManifest(client, location, signal);
  const dir = options.into ?? cachedModelDir(cacheRoot(options.cacheDir), location, sha256);
  await mkdir(dir, { recursive: true });
  const files = manifest.model.files.filter(options.only ?? (() => true));
  Object.assign(stats, {
    totalBytes: files.reduce((n, f) => n + f.size, 0),
    chunksTotal: files.reduce((n, f) => n + f.chunks.length, 0),
    filesTotal: files.length,
  });
  const release = await lockModelDir(dir, sink, signal);
  try {
    const pending: ManifestFile[] = [];
    for (const file of files) {
      if (await alreadyVerified(dir, file)) {
        stats.cachedBytes += file.size;
        stats.chunksReused += file.chunks.length;
        stats.filesReady++;
        options.onFileReady?.(file.path, stats);
      } else pending.push(file);
    }
    const pendingBytes = pending.reduce((n, f) => n + f.size, 0);
    await checkFreeSpace(dir, pendingBytes);

    const limiter = new Limiter(options.concurrency ?? 8);
    const objects = await Promise.all(pending.map((f) => limiter.run(() => headObject(client, location, f, signal))));
    const progress = new TransferProgress(`fetch ${formatS3Uri(location)}`, pendingBytes, sink);
    let firstFailure: unknown = null;
    const ctx: FileFetchContext = {
      client, limiter, signal,
      retry: { ...options.retry, onRetry: () => void stats.retries++ },
      onBytes: (bytes) => {
        stats.receivedBytes += bytes;
        progress.advance(bytes);
      },
      onChunkVerified: (event) => {
        stats.verifiedBytes += event.bytes;
        stats.chunksVerified++;
        options.onChunk?.(event, stats);
      },
      onChunkReused: (event) => {
        stats.cachedBytes += event.bytes;
        stats.chunksReused++;
        progress.exclude(event.bytes);
      },
      onFail: (err) => {
        firstFailure ??= err; // the cause; the aborts it triggers elsewhere are not
        abort.abort(err);
      },
    };
    const results = await Promise.allSettled(
      pending.map(async (file, i) => {
        await fetchFile(dir, file, objects[i]!, ctx);
        stats.filesReady++;
        options.onFileReady?.(file.path, stats);
      }),
    );
    stats.seconds = (performance.now() - started) / 1000;
    const failure = firstFailure ?? results.find((r): r is PromiseRejectedResult => r.status === 'rejected')?.reason;
    if (failure !== undefined && failure !== null) {
      progress.abandon();
      throw failure;
    }
    for (const parent of new Set(pending.map((f) => dirname(join(dir, f.path))))) await syncDir(parent); // the renames
    await writeFileAtomic(join(dir, MANIFEST_FILE), text, false); // a copy for `weights verify DIR`; the markers are what count
    stats.done = true;
    if (pending.length > 0) progress.finish(`${pending.length} of ${files.length} files verified into ${dir}`);
    return { dir, manifest, manifestSha256: sha256, stats };
  } finally {
    await release();
  }
}
