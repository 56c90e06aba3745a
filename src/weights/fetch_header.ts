// A weights file's safetensors header alone, verified against the manifest's v2 `header`
// hash: a shard can read dtypes, shapes and offsets without fetching the file.
import { GetObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { createHash } from 'node:crypto';
import { parseSafetensorsHeader, type SafetensorsTensor } from '../engine/safetensors.ts';
import { ChecksumError, WeightsError } from './errors.ts';
import type { Manifest } from './manifest.ts';
import { asWeightsError, withRetry, type RetryOptions } from './s3_errors.ts';
import { formatS3Uri, objectKey, parseS3Uri, s3ClientFromEnv, type S3Location } from './s3_location.ts';

export type FetchHeaderOptions = { client?: S3Client; signal?: AbortSignal; retry?: Omit<RetryOptions, 'signal'> };

export async function fetchSafetensorsHeader(location: S3Location | string, manifest: Manifest, path: string, options: FetchHeaderOptions = {}): Promise<{ bytes: Buffer; tensors: SafetensorsTensor[] }> {
  const where = typeof location === 'string' ? parseS3Uri(location) : location;
  const uri = formatS3Uri(where, path);
  const file = manifest.model.files.find((f) => f.path === path);
  if (!file) throw new WeightsError(`${uri}: ${path} is not in the manifest`);
  if (!file.header) throw new WeightsError(`${uri}: the manifest (version ${manifest.version}) has no header hash for ${path}: push the model again with this sirocco`);
  const { bytes: length, sha256 } = file.header;
  const client = options.client ?? s3ClientFromEnv({ maxAttempts: 1 });
  let bytes: Buffer;
  try {
    bytes = await withRetry(async () => {
      const response = await client.send(new GetObjectCommand({ Bucket: where.bucket, Key: objectKey(where, path), Range: `bytes=0-${length - 1}` }), { abortSignal: options.signal });
      return Buffer.from((await response.Body?.transformToByteArray()) ?? []);
    }, { ...options.retry, signal: options.signal });
  } catch (err) {
    throw asWeightsError(err, uri);
  }
  const actual = createHash('sha256').update(bytes).digest('hex');
  if (bytes.length !== length || actual !== sha256)
    throw new ChecksumError(`${uri}: checksum mismatch in the safetensors header (bytes 0-${length - 1}): ${bytes.length} bytes with sha256 ${actual}, manifest says ${sha256}; push the model again`);
  return { bytes, tensors: parseSafetensorsHeader(uri, bytes, file.size) };
}
