// `s3://bucket/prefix` and the S3 client that reaches it. Endpoint, region and credentials
// come from the standard AWS environment and config files; AWS_ENDPOINT_URL_S3 or
// AWS_ENDPOINT_URL points at an S3-compatible store (MinIO, s3rver, R2…), which is then
// addressed path-style (http://host/bucket/key) since such stores rarely have bucket DNS names.
import { S3Client, type S3ClientConfig } from '@aws-sdk/client-s3';
import { WeightsError } from './errors.ts';

export type S3Location = { bucket: string; prefix: string };

// S3's bucket naming rules, minus the legacy ones (uppercase, underscores) no new bucket can use.
const BUCKET = /^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/;

export const isS3Uri = (uri: string): boolean => uri.startsWith('s3://');

/** `s3://bucket/some/prefix/` → { bucket, prefix: 'some/prefix' } (no leading or trailing slash). */
export function parseS3Uri(uri: string): S3Location {
  const rest = uri.startsWith('s3://') ? uri.slice('s3://'.length) : null;
  if (rest === null) throw new WeightsError(`'${uri}' is not an S3 URI: expected s3://bucket/prefix`);
  const slash = rest.indexOf('/');
  const bucket = slash === -1 ? rest : rest.slice(0, slash);
  const prefix = (slash === -1 ? '' : rest.slice(slash + 1)).replace(/^\/+|\/+$/g, '');
  if (!BUCKET.test(bucket) || bucket.includes('..'))
    throw new WeightsError(`'${uri}': '${bucket}' is not a valid bucket name (3-63 lowercase letters, digits, '.' or '-'): expected s3://bucket/prefix`);
  if (prefix !== '' && prefix.split('/').some((part) => part === '' || part === '.' || part === '..'))
    throw new WeightsError(`'${uri}': the prefix must not contain empty, '.' or '..' parts`);
  return { bucket, prefix };
}

export const formatS3Uri = ({ bucket, prefix }: S3Location, path = ''): string =>
  `s3://${bucket}/${[prefix, path].filter((p) => p !== '').join('/')}`;

/** The object key of `path` (a model file's relative path) under the location's prefix. */
export const objectKey = ({ prefix }: S3Location, path: string): string => (prefix === '' ? path : `${prefix}/${path}`);

export type S3ClientOptions = { maxAttempts?: number };

export function s3ClientFromEnv(options: S3ClientOptions = {}, env: NodeJS.ProcessEnv = process.env): S3Client {
  // This SDK release warns on every start that *future* releases will need Node 22; the pinned
  // version works on Node 20, so the notice is noise on a CLI's stderr unless the user asks for it.
  env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';
  const endpoint = env.AWS_ENDPOINT_URL_S3 || env.AWS_ENDPOINT_URL || undefined;
  const region = env.AWS_REGION || env.AWS_DEFAULT_REGION || (endpoint ? 'us-east-1' : undefined);
  const config: S3ClientConfig = {
    ...(region ? { region } : {}),
    ...(options.maxAttempts ? { maxAttempts: options.maxAttempts } : {}),
  };
  if (endpoint) {
    config.endpoint = endpoint;
    config.forcePathStyle = true;
    // S3-compatible stores often reject the SDK's newer default CRC trailers; our own sha256
    // checks cover integrity end to end, so only send checksums where the API requires them.
    config.requestChecksumCalculation = 'WHEN_REQUIRED';
    config.responseChecksumValidation = 'WHEN_REQUIRED';
  }
  return new S3Client(config);
}
