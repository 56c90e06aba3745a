// Shard-aware partial fetch (DESIGN.md §1 "Weights from S3"): a tensor-parallel shard asks for
// slices of tensors (rows, or columns through the column-chunked copies) and gets exactly
// those, fetching only the hashed blocks that cover them (slice_plan.ts) with parallel ranged
// GETs (`bytes=start-end`, never suffix ranges). Every block's sha256 is checked before any of
// its bytes is copied into a slice; each slice goes to `onSlice` the moment its last block is
// in, so the caller loads it while the rest still downloads.
//
// Memory: GETs cover at most `maxGetBytes` (whole blocks) and at most `concurrency` run at
// once; they start in request order, so only the slices being filled (about `concurrency` of
// them, plus a later one that shares a block with an earlier one) hold a buffer, and a
// delivered slice's buffer is the caller's. Nothing of the model is buffered beyond that.
import { GetObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { createHash } from 'node:crypto';
import type { Readable } from 'node:stream';
import { ChecksumError, ObjectChangedError } from './errors.ts';
import { Limiter } from './limiter.ts';
import type { Manifest } from './manifest.ts';
import { asWeightsError, classifyS3Error, withRetry, type RetryOptions } from './s3_errors.ts';
import { formatS3Uri, objectKey, parseS3Uri, s3ClientFromEnv, type S3Location } from './s3_location.ts';
import { blocksOf, ManifestIndex, planSlice, scatter, type PlannedSlice, type SliceRequest } from './slice_plan.ts';

export { SliceRequest } from './slice_plan.ts';

export type FetchSlicesOptions = {
  client?: S3Client;
  /** Parallel ranged GETs (default 8). */
  concurrency?: number;
  /** Largest GET, rounded up to whole blocks (default 8 MiB). */
  maxGetBytes?: number;
  /** Called once per request, as soon as its slice is complete and verified; awaited before the fetch resolves. */
  onSlice?: (request: SliceRequest, bytes: Buffer, index: number) => void | Promise<void>;
  signal?: AbortSignal;
  retry?: Omit<RetryOptions, 'signal'>;
};

/** Per request: the slice's shape and size, and the bytes of the blocks it needed (shared blocks count for each request that needs them). */
export type SliceFetchInfo = { request: SliceRequest; shape: number[]; sliceBytes: number; downloadedBytes: number };

/** `downloadedBytes`: all bytes off the network, retries included; `verifiedBytes`: distinct blocks fetched and verified. */
export type SlicesFetched = { downloadedBytes: number; verifiedBytes: number; requests: SliceFetchInfo[] };

type Block = { key: string; object: string; start: number; end: number; sha256: string; label: string; users: Set<number> };
type Run = { object: string; start: number; end: number; blocks: Block[]; users: number[]; order: number };

/** Distinct blocks every request needs, keyed by object and start (so a block shared by requests is fetched once). */
function neededBlocks(slices: PlannedSlice[]): Map<string, Block> {
  const blocks = new Map<string, Block>();
  slices.forEach((slice, user) => {
    const t = slice.table;
    for (const segment of slice.segments) {
      if (segment.len === 0 || segment.count === 0) continue;
      const { first, last } = blocksOf(t, segment);
      for (let i = first; i <= last; i++) {
        const start = t.base + i * t.blockBytes;
        const key = `${t.object}\n${start}`;
        let block = blocks.get(key);
        if (!block) {
          const end = Math.min(t.base + t.bytes, start + t.blockBytes);
          block = { key, object: t.object, start, end, sha256: t.hashes[i]!, label: `${t.what} ${t.unit} ${i} (bytes ${start}-${end - 1} of ${t.object})`, users: new Set() };
          blocks.set(key, block);
        }
        block.users.add(user);
      }
    }
  });
  return blocks;
}

/** Adjacent blocks of one object merged into GETs of at most maxGetBytes, ordered by the first request they serve. */
function planRuns(blocks: Map<string, Block>, maxGetBytes: number): Run[] {
  const sorted = [...blocks.values()].sort((a, b) => (a.object < b.object ? -1 : a.object > b.object ? 1 : a.start - b.start));
  const runs: Run[] = [];
  let run: Run | null = null;
  for (const block of sorted) {
    if (run && run.object === block.object && run.end === block.start && block.end - run.start <= maxGetBytes) {
      run.blocks.push(block);
      run.end = block.end;
    } else {
      run = { object: block.object, start: block.start, end: block.end, blocks: [block], users: [], order: 0 };
      runs.push(run);
    }
  }
  for (const r of runs) {
    r.users = [...new Set(r.blocks.flatMap((b) => [...b.users]))].sort((a, b) => a - b);
    r.order = r.users[0]!;
  }
  return runs.sort((a, b) => a.order - b.order || (a.object < b.object ? -1 : a.object > b.object ? 1 : a.start - b.start));
}

class ShortBodyError extends Error {
  override name = 'ShortBodyError';
  readonly code = 'ERR_STREAM_PREMATURE_CLOSE'; // a dropped connection: retried
}

export async function fetchTensorSlices(location: S3Location | string, manifest: Manifest, requests: SliceRequest[], options: FetchSlicesOptions = {}): Promise<SlicesFetched> {
  const where = typeof location === 'string' ? parseS3Uri(location) : location;
  const index = new ManifestIndex(manifest);
  const slices = requests.map((r) => planSlice(index, r)); // every request checked before the first GET
  const blocks = neededBlocks(slices);
  const maxGet = Math.max(1, options.maxGetBytes ?? 8 << 20);
  const runs = planRuns(blocks, maxGet);
  const client = options.client ?? s3ClientFromEnv({ maxAttempts: 1 }); // retried per GET below
  const limiter = new Limiter(options.concurrency ?? 8);
  const abort = new AbortController();
  const signal = options.signal ? AbortSignal.any([options.signal, abort.signal]) : abort.signal;

  const result: SlicesFetched = {
    downloadedBytes: 0,
    verifiedBytes: 0,
    requests: slices.map((s) => ({ request: s.request, shape: s.shape, sliceBytes: s.bytes, downloadedBytes: 0 })),
  };
  for (const block of blocks.values()) for (const user of block.users) result.requests[user]!.downloadedBytes += block.end - block.start;

  let failure: unknown = null;
  const outputs: (Buffer | undefined)[] = slices.map(() => undefined);
  const pending = slices.map(() => 0);
  for (const run of runs) for (const user of run.users) pending[user]!++;
  const callbacks: Promise<void>[] = [];
  const deliver = (user: number) => {
    const bytes = outputs[user] ?? Buffer.alloc(slices[user]!.bytes);
    outputs[user] = undefined; // the caller's now
    const called = Promise.resolve().then(() => options.onSlice?.(slices[user]!.request, bytes, user));
    callbacks.push(
      called.catch((err: unknown) => {
        failure ??= err; // the caller could not take the slice: stop downloading the rest
        abort.abort(err);
        throw err;
      }),
    );
  };
  slices.forEach((_, user) => pending[user] === 0 && deliver(user)); // empty tensors

  const etags = new Map<string, string>();
  const uriOf = (object: string) => formatS3Uri(where, object);

  /** Checks a block, then copies it into every slice that needs it. */
  const useBlock = (block: Block, bytes: Buffer) => {
    const actual = createHash('sha256').update(bytes).digest('hex');
    if (actual !== block.sha256)
      throw new ChecksumError(`${uriOf(block.object)}: checksum mismatch in ${block.label}: sha256 ${actual}, manifest says ${block.sha256}; the stored object is corrupt: push the model again`);
    for (const user of block.users) {
      const slice = slices[user]!;
      const out = (outputs[user] ??= Buffer.allocUnsafe(slice.bytes)); // every byte is written: the segments tile it
      for (const segment of slice.segments) if (slice.table.object === block.object) scatter(segment, block.start, bytes, out);
    }
  };

  const fetchRun = async (run: Run) => {
    const uri = uriOf(run.object);
    const response = await client.send(new GetObjectCommand({ Bucket: where.bucket, Key: objectKey(where, run.object), Range: `bytes=${run.start}-${run.end - 1}` }), { abortSignal: signal });
    const body = response.Body as Readable | undefined;
    try {
      // Block hashes catch a changed object too; this only names the cause better.
      const seen = etags.get(run.object);
      if (response.ETag !== undefined && seen !== undefined && seen !== response.ETag)
        throw new ObjectChangedError(`${uri}: the object changed while slices were being fetched (ETag ${seen} → ${response.ETag}): the model was re-pushed; start again`);
      if (response.ETag !== undefined) etags.set(run.object, response.ETag);
      if (!body) throw new ShortBodyError(`${uri}: empty response for bytes ${run.start}-${run.end - 1}`);
      const buffer = Buffer.allocUnsafe(run.end - run.start);
      let received = 0;
      let next = 0; // the first block not yet used
      for await (const piece of body as AsyncIterable<Buffer>) {
        result.downloadedBytes += piece.length;
        if (received + piece.length > buffer.length) throw new ChecksumError(`${uri}: the server sent more than bytes ${run.start}-${run.end - 1}; check the S3 endpoint`);
        piece.copy(buffer, received);
        received += piece.length;
        for (; next < run.blocks.length && run.blocks[next]!.end - run.start <= received; next++) {
          const block = run.blocks[next]!;
          useBlock(block, buffer.subarray(block.start - run.start, block.end - run.start));
        }
      }
      if (received < buffer.length) throw new ShortBodyError(`${uri}: got ${received} of ${buffer.length} bytes for bytes ${run.start}-${run.end - 1}`);
    } finally {
      if (body && !body.readableEnded) body.destroy();
    }
  };

  const tasks = runs.map((run) =>
    limiter
      .run(async () => {
        signal.throwIfAborted();
        await withRetry(() => fetchRun(run), { ...options.retry, signal });
        result.verifiedBytes += run.end - run.start;
        for (const user of run.users) if (--pending[user]! === 0) deliver(user);
      })
      .catch((err: unknown) => {
        const error = asWeightsError(err, uriOf(run.object));
        if (failure === null && classifyS3Error(error) !== 'aborted') failure = error;
        abort.abort(error); // stop the other GETs: the fetch has failed
        throw error;
      }),
  );
  const settled = await Promise.allSettled(tasks);
  const callbackResults = await Promise.allSettled(callbacks);
  const firstError = failure ?? settled.find((r): r is PromiseRejectedResult => r.status === 'rejected')?.reason ?? callbackResults.find((r): r is PromiseRejectedResult => r.status === 'rejected')?.reason;
  if (firstError !== undefined && firstError !== null) throw firstError;
  return result;
}
