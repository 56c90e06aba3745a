// `sirocco weights verify s3://…`: reads every object the manifest lists, start to end, and
// checks every chunk's and file's sha256, storing nothing. Objects are read in parallel.
import { GetObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { checkAgainstManifest, hashChunkedStream } from './chunk_hashing.ts';
import { WeightsError } from './errors.ts';
import { readRemoteManifest } from './fetch_model.ts';
import { Limiter } from './limiter.ts';
import { asWeightsError, classifyS3Error, withRetry } from './s3_errors.ts';
import { formatS3Uri, objectKey, parseS3Uri, s3ClientFromEnv } from './s3_location.ts';
import { TransferProgress, type ProgressSink } from './transfer_progress.ts';

export type VerifyRemoteOptions = { client?: S3Client; concurrency?: number; progress?: ProgressSink | null };

export async function verifyRemoteModel(uri: string, options: VerifyRemoteOptions = {}): Promise<{ files: number; bytes: number }> {
  const location = parseS3Uri(uri);
  const client = options.client ?? s3ClientFromEnv({ maxAttempts: 1 });
  const { manifest } = await readRemoteManifest(client, location);
  const files = manifest.model.files;
  const total = files.reduce((n, f) => n + f.size, 0);
  const meter = new TransferProgress(`verify ${formatS3Uri(location)}`, total, options.progress === undefined ? process.stderr : options.progress);
  const limiter = new Limiter(options.concurrency ?? 4);
  try {
    await Promise.all(
      files.map((file) =>
        limiter.run(async () => {
          const objectUri = formatS3Uri(location, file.path);
          // A retry starts the object over, so its bytes are counted once on the meter.
          const hashed = await withRetry(async () => {
            let counted = 0;
            try {
              const response = await client.send(new GetObjectCommand({ Bucket: location.bucket, Key: objectKey(location, file.path) }));
              if (!response.Body) throw new WeightsError(`${objectUri}: empty response`);
              return await hashChunkedStream(response.Body as AsyncIterable<Uint8Array>, file.chunk_size, (n) => {
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
          checkAgainstManifest(file, hashed, objectUri);
        }),
      ),
    );
  } catch (err) {
    meter.abandon();
    throw err;
  }
  meter.finish(`${files.length} files match the manifest`);
  return { files: files.length, bytes: total };
}
