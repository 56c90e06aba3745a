// `sirocco weights push DIR s3://bucket/prefix`: hash the model into a manifest, upload every
// file (multipart, parallel parts), and write manifest.json last. The old manifest is deleted
// first, so while a push runs readers see no model rather than a mix of old and new files.
// Objects already stored with the same size and sha256 (object metadata) are not re-sent, so
// an interrupted push resumes by file; pushing an unchanged model changes nothing at all.
// Besides the model's files, push uploads the column-chunked copies the manifest lists
// (colchunks.ts), generated again from the local files as the upload body.
import { DeleteObjectCommand, HeadObjectCommand, PutObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { Upload } from '@aws-sdk/lib-storage';
import { createReadStream } from 'node:fs';
import { Readable } from 'node:stream';
import { stat } from 'node:fs/promises';
import { isDeepStrictEqual } from 'node:util';
import { join } from 'node:path';
import { WeightsError } from './errors.ts';
import { Limiter } from './limiter.ts';
import { readRemoteManifest } from './fetch_model.ts';
import { colChunkBytes, planOf } from './colchunk_build.ts';
import { MANIFEST_FILE, type Manifest } from './manifest.ts';
import { buildManifest } from './manifest_build.ts';
import { asWeightsError, classifyS3Error } from './s3_errors.ts';
import { formatS3Uri, objectKey, parseS3Uri, s3ClientFromEnv, type S3Location } from './s3_location.ts';
import { TransferProgress, type ProgressSink } from './transfer_progress.ts';

export const MIN_PART_SIZE = 8 << 20;
const MAX_PARTS = 10_000; // S3's limit per multipart upload

export type PushOptions = {
  chunkSize?: number; // manifest chunk size (default 64 MiB)
  blockBytes?: number; // manifest tensor block size (default 1 MiB)
  client?: S3Client;
  progress?: ProgressSink | null; // default stderr
  partQueue?: number; // parallel parts per file (default 4)
};

/** `files` and `bytes` count the model's files; `objects` adds the column-chunked copies. */
export type PushResult = { uri: string; manifest: Manifest; files: number; bytes: number; objects: number; uploadedBytes: number; skippedFiles: number; unchanged: boolean };

/** One object to store: a model file, or a column-chunked copy generated on the fly. */
type StoredObject = { path: string; size: number; sha256: string; body: () => Readable };

function uploadsOf(dir: string, manifest: Manifest): StoredObject[] {
  const files = manifest.model.files.map((f) => ({ path: f.path, size: f.size, sha256: f.sha256, body: () => createReadStream(join(dir, f.path)) }));
  const copies = (manifest.model.colchunks ?? []).map((c) => {
    const plan = planOf(manifest.model.files, c);
    return { path: c.object, size: c.size, sha256: c.sha256, body: () => Readable.from(colChunkBytes(dir, plan)) };
  });
  return [...files, ...copies];
}

async function storedSha256(client: S3Client, location: S3Location, file: StoredObject): Promise<string | null> {
  try {
    const head = await client.send(new HeadObjectCommand({ Bucket: location.bucket, Key: objectKey(location, file.path) }));
    return head.ContentLength === file.size ? (head.Metadata?.sha256 ?? null) : null;
  } catch (err) {
    if (classifyS3Error(err) === 'not-found') return null;
    throw err;
  }
}

async function remoteManifestOrNull(client: S3Client, location: S3Location): Promise<Manifest | null> {
  try {
    return (await readRemoteManifest(client, location)).manifest;
  } catch {
    return null; // none, unreadable or invalid: it is replaced either way
  }
}

export async function pushModel(dir: string, uri: string, options: PushOptions = {}): Promise<PushResult> {
  const location = parseS3Uri(uri);
  const target = formatS3Uri(location);
  if (!(await stat(dir).then((s) => s.isDirectory(), () => false))) throw new WeightsError(`${dir}: no such directory: pass a model directory to push`);
  const client = options.client ?? s3ClientFromEnv();
  const sink = options.progress === undefined ? process.stderr : options.progress;

  const hashing: { meter?: TransferProgress; done: number } = { done: 0 };
  const manifest = await buildManifest(dir, {
    chunkSize: options.chunkSize,
    blockBytes: options.blockBytes,
    onProgress: (done, total) => {
      hashing.meter ??= new TransferProgress(`hash ${dir}`, total, sink);
      hashing.meter.advance(done - hashing.done);
      hashing.done = done;
    },
  });
  hashing.meter?.finish('sha256 of every file, chunk and tensor block');
  const files = uploadsOf(dir, manifest);
  const bytes = manifest.model.files.reduce((n, f) => n + f.size, 0);
  const result: PushResult = { uri: target, manifest, files: manifest.model.files.length, bytes, objects: files.length, uploadedBytes: 0, skippedFiles: 0, unchanged: false };

  try {
    const limiter = new Limiter(8);
    const stored = await Promise.all(files.map((f) => limiter.run(() => storedSha256(client, location, f))));
    const missing = files.filter((f, i) => stored[i] !== f.sha256);
    result.skippedFiles = files.length - missing.length;
    const previous = await remoteManifestOrNull(client, location);
    if (missing.length === 0 && previous && isDeepStrictEqual(previous.model, manifest.model)) {
      sink?.write(`push: ${target} already holds this model (manifest and every object unchanged)\n`);
      return { ...result, manifest: previous, unchanged: true };
    }
    await client.send(new DeleteObjectCommand({ Bucket: location.bucket, Key: objectKey(location, MANIFEST_FILE) }));

    const progress = new TransferProgress(`push ${target}`, missing.reduce((n, f) => n + f.size, 0), sink);
    for (const file of missing) {
      const upload = new Upload({
        client,
        params: { Bucket: location.bucket, Key: objectKey(location, file.path), Body: file.body(), Metadata: { sha256: file.sha256 } },
        partSize: Math.max(MIN_PART_SIZE, Math.ceil(file.size / MAX_PARTS)),
        queueSize: options.partQueue ?? 4,
        leavePartsOnError: false,
      });
      let sent = 0;
      upload.on('httpUploadProgress', (p) => {
        const loaded = p.loaded ?? 0;
        if (loaded > sent) progress.advance(loaded - sent);
        sent = Math.max(sent, loaded);
      });
      await upload.done();
      if (file.size > sent) progress.advance(file.size - sent);
      result.uploadedBytes += file.size;
    }
    // Last: only now does the model exist for readers.
    await client.send(
      new PutObjectCommand({ Bucket: location.bucket, Key: objectKey(location, MANIFEST_FILE), Body: JSON.stringify(manifest, null, 1) + '\n', ContentType: 'application/json' }),
    );
    progress.finish(`${missing.length} objects uploaded (${result.skippedFiles} already stored), then ${MANIFEST_FILE}`);
  } catch (err) {
    throw asWeightsError(err, target);
  }
  return result;
}
