// One model file from S3 into the local model directory: its missing chunks as parallel ranged
// GETs (`bytes=start-end`, If-Match on the object's ETag), each chunk's sha256 checked as it
// streams in and written in place into `<file>.partial`; then the whole-file sha256, fsync,
// rename. Chunks verified by an earlier, interrupted run are re-checked locally, not re-fetched.
import { GetObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { createHash, type Hash } from 'node:crypto';
import { constants } from 'node:fs';
import { mkdir, open, rename, type FileHandle } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import type { Readable } from 'node:stream';
import { ChunkLedger, markVerified, partialPath, readLedger } from './download_cache.ts';
import { ChecksumError, ObjectChangedError } from './errors.ts';
import { recheckChunks, SequentialFileHasher } from './file_hashing.ts';
import type { Limiter } from './limiter.ts';
import type { ManifestFile } from './manifest.ts';
import { asWeightsError, classifyS3Error, withRetry, type RetryOptions } from './s3_errors.ts';

export type RemoteObject = { uri: string; bucket: string; key: string; etag: string };

export type ChunkEvent = { path: string; index: number; bytes: number };

export type FileFetchContext = {
  client: S3Client;
  limiter: Limiter;
  signal: AbortSignal; // aborted by the caller on the first fatal error anywhere
  retry: RetryOptions;
  onBytes: (bytes: number) => void; // every byte received, wasted or not
  onChunkVerified: (event: ChunkEvent) => void;
  onChunkReused: (event: ChunkEvent) => void; // verified by an earlier run
  onFail: (err: unknown) => void;
};

const WRITE_BATCH = 1 << 20;
const WRITE_QUEUE = 16 << 20;

/** A body that ended early: a dropped connection, so retried like one. */
class ShortBodyError extends Error {
  override name = 'ShortBodyError';
  readonly code = 'ERR_STREAM_PREMATURE_CLOSE';
}

/** pwritev that finishes a short write (rare for files, but allowed). */
async function writeAllAt(handle: FileHandle, pieces: Buffer[], bytes: number, position: number): Promise<void> {
  const { bytesWritten } = await handle.writev(pieces, position);
  if (bytesWritten < bytes) {
    const rest = Buffer.concat(pieces, bytes).subarray(bytesWritten);
    for (let done = 0; done < rest.length; ) done += (await handle.write(rest, done, rest.length - done, position + bytesWritten + done)).bytesWritten;
  }
}

/** Fetches and verifies one chunk into the partial file; returns the whole-file live feed, if it got one. */
async function fetchChunk(handle: FileHandle, file: ManifestFile, index: number, object: RemoteObject, ctx: FileFetchContext, hasher: SequentialFileHasher): Promise<Hash | null> {
  const chunk = file.chunks[index]!;
  const last = chunk.offset + chunk.size - 1;
  const where = `${file.path} chunk ${index} (bytes ${chunk.offset}-${last})`;
  const changed = (now: string) =>
    new ObjectChangedError(`${object.uri}: the object changed while it was being downloaded (ETag ${object.etag} → ${now}, at ${where}): the model was re-pushed; start again`);
  let response;
  try {
    response = await ctx.client.send(
      new GetObjectCommand({ Bucket: object.bucket, Key: object.key, Range: `bytes=${chunk.offset}-${last}`, IfMatch: object.etag }),
      { abortSignal: ctx.signal },
    );
  } catch (err) {
    if (classifyS3Error(err) === 'changed') throw changed('another ETag: 412 Precondition Failed');
    throw err;
  }
  const body = response.Body as Readable | undefined;
  // Writes are queued, not awaited one by one, so the socket keeps being read while the disk
  // catches up; the queue is drained whenever it holds more than WRITE_QUEUE bytes.
  let writing: Promise<void> = Promise.resolve();
  let writeError: unknown = null;
  let queued = 0;
  const enqueueWrite = (pieces: Buffer[], bytes: number, position: number) => {
    queued += bytes;
    writing = writing
      .then(() => writeAllAt(handle, pieces, bytes, position))
      .then(() => void (queued -= bytes), (err: unknown) => void (writeError ??= err));
  };
  try {
    // Some S3-compatible stores ignore If-Match; the ETag they answer with still tells.
    if (response.ETag !== undefined && response.ETag !== object.etag) throw changed(response.ETag);
    if (body === undefined) throw new ShortBodyError(`${object.uri}: empty response for ${where}`);
    const hash = createHash('sha256');
    const whole = hasher.liveFeed(index);
    let received = 0;
    let batch: Buffer[] = [];
    let batchBytes = 0;
    const flushBatch = () => {
      enqueueWrite(batch, batchBytes, chunk.offset + received - batchBytes);
      batch = [];
      batchBytes = 0;
    };
    for await (const piece of body as AsyncIterable<Buffer>) {
      received += piece.length;
      ctx.onBytes(piece.length);
      if (received > chunk.size) throw new ChecksumError(`${object.uri}: ${where}: the server sent more bytes than asked for; check the S3 endpoint`);
      hash.update(piece);
      whole?.update(piece);
      batch.push(piece);
      batchBytes += piece.length;
      if (batchBytes >= WRITE_BATCH) flushBatch();
      if (queued > WRITE_QUEUE) await writing;
    }
    if (batchBytes > 0) flushBatch();
    if (received < chunk.size) throw new ShortBodyError(`${object.uri}: ${where}: got ${received} of ${chunk.size} bytes`);
    const actual = hash.digest('hex');
    if (actual !== chunk.sha256)
      throw new ChecksumError(`${object.uri}: checksum mismatch in ${where}: sha256 ${actual}, manifest says ${chunk.sha256}; the stored object is corrupt: push the model again`);
    await writing;
    if (writeError !== null) throw writeError;
    return whole;
  } finally {
    if (body && !body.readableEnded) body.destroy();
    await writing; // nothing may write into the file after this attempt is over
  }
}

/** Downloads, verifies and installs `file` into `dir`; resolves when it is in place and marked verified. */
export async function fetchFile(dir: string, file: ManifestFile, object: RemoteObject, ctx: FileFetchContext): Promise<void> {
  const finalPath = join(dir, file.path);
  const partial = partialPath(dir, file.path);
  await mkdir(dirname(finalPath), { recursive: true });
  const handle = await open(partial, constants.O_RDWR | constants.O_CREAT, 0o644);
  try {
    await handle.truncate(file.size);
    const reused = await recheckChunks(handle, file, await readLedger(dir, file));
    const ledger = new ChunkLedger(dir, file, reused, () => handle.datasync());
    const hasher = new SequentialFileHasher(handle, file);
    for (const index of reused) {
      hasher.markReady(index);
      ctx.onChunkReused({ path: file.path, index, bytes: file.chunks[index]!.size });
    }
    const tasks = file.chunks.map(async (chunk, index) => {
      if (ledger.has(index)) return;
      let fed: Hash | null;
      try {
        fed = await ctx.limiter.run(async () => {
          ctx.signal.throwIfAborted();
          return withRetry(() => fetchChunk(handle, file, index, object, ctx, hasher), { ...ctx.retry, signal: ctx.signal });
        });
      } catch (err) {
        const userError = asWeightsError(err, object.uri);
        ctx.onFail(userError);
        throw userError;
      }
      ledger.add(index);
      hasher.markReady(index, fed);
      ctx.onChunkVerified({ path: file.path, index, bytes: chunk.size });
    });
    // Wait for every task (none may write after the handle closes), then report the first real error.
    const results = await Promise.allSettled(tasks);
    const errors = results.flatMap((r) => (r.status === 'rejected' ? [r.reason as unknown] : []));
    await ledger.close(errors.length > 0);
    if (errors.length > 0) throw errors.find((e) => classifyS3Error(e) !== 'aborted') ?? errors[0];
    const sha256 = await hasher.digest();
    if (sha256 !== file.sha256)
      throw new ChecksumError(`${object.uri}: every chunk of ${file.path} verified but the whole file hashes to ${sha256}, not ${file.sha256}: the manifest is inconsistent; push the model again`);
    await handle.sync();
  } finally {
    await handle.close();
  }
  await rename(partial, finalPath); // the caller fsyncs the directory once all files are in place
  await markVerified(dir, file);
}
