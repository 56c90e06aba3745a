// `sirocco weights verify s3://…`: reads every object the manifest lists, start to end, and
// checks every chunk's and file's sha256 (and, for a version-2 manifest, every header and
// tensor block hash and the column-chunked copies), storing nothing. Objects are read in parallel.
import { GetObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { WeightsError } from './errors.ts';
import { readRemoteManifest } from './fetch_model.ts';
import { Limiter } from './limiter.ts';
import { asWeightsError, classifyS3Error, withRetry } from './s3_errors.ts';
import { formatS3Uri, objectKey, parseS3Uri, s3ClientFromEnv } from './s3_location.ts';
import { verifyColChunkStream, verifyFileStream } from './tensor_verify.ts';
import { TransferProgress, type ProgressSink } from './transfer_progress.ts';

export type VerifyRemoteOptions = { client?: S3Client; concurrency?: number; progress?: ProgressSink | null };

/** `files` and `bytes`: the model's files; `colChunkObjects`: column-chunked copies also checked. */
export async function verifyRemoteModel(uri: string, options: VerifyRemoteOptions = {}): Promise<{ files: number; bytes: number; colChunkObjects: number }> {
  const location = parseS3Uri(uri);
  const client = options.client ?? s3ClientFromEnv({ maxAttempts: 1 });
  const { manifest } = await readRemoteManifest(client, location);
  const files = manifest.model.files;
  const copies = manifest.model.colchunks ?? [];
  const objects = [
    ...files.map((file) => ({ path: file.path, size: file.size, check: (body: AsyncIterable<Uint8Array>, uri: string, onBytes: (n: number) => void) => verifyFileStream(manifest, file, body, uri, onBytes) })),
    ...copies.map((entry) => ({ path: entry.object, size: entry.size, check: (body: AsyncIterable<Uint8Array>, uri: string, onBytes: (n: number) => void) => verifyColChunkStream(manifest, entry, body, uri, onBytes) })),
  ];
  const bytes = files.reduce((n, f) => n + f.size, 0);
  const meter = new TransferProgress(`verify ${formatS3Uri(location)}`, objects.reduce((n, o) => n + o.size, 0), options.progress === undefined ? process.stderr : options.progress);
  const limiter = new Limiter(options.concurrency ?? 4);
  try {
    await Promise.all(
      objects.map((object) =>
        limiter.run(async () => {
          const objectUri = formatS3Uri(location, object.path);
          // A retry starts the object over, so its bytes are counted once on the meter.
          await withRetry(async () => {
            let counted = 0;
            try {
              const response = await client.send(new GetObjectCommand({ Bucket: location.bucket, Key: objectKey(location, object.path) }));
              if (!response.Body) throw new WeightsError(`${objectUri}: empty response`);
              await object.check(response.Body as AsyncIterable<Uint8Array>, objectUri, (n) => {
                counted += n;
                meter.advance(n);
              });
            } catch (err) {
              meter.advance(-counted);
              throw err;
            }
          }).catch((err: unknown) => {
            if (classifyS3Error(err) === 'not-found') throw new WeightsError(`${objectUri}: missing object (listed in the manifest): push the model again`);
            throw asWeightsError(err, objectUri);
          });
        }),
      ),
    );
  } catch (err) {
    meter.abandon();
    throw err;
  }
  meter.finish(`${files.length} files${copies.length ? ` and ${copies.length} column-chunked copies` : ''} match the manifest`);
  return { files: files.length, bytes, colChunkObjects: copies.length };
}
