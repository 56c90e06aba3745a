// An edge node's model from S3-compatible storage, as `sirocco weights push` stored it: the
// manifest first, then each file the node needs by ranged GETs of the manifest's chunks, every
// chunk's sha256 checked (Web Crypto) before its bytes count — the native node's rule. Portable:
// the AWS SDK's fetch build, no file system (the files stay in memory: an isolate has no disk).
import { GetObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { ChecksumError, WeightsError } from '../weights/errors.ts';
import { MANIFEST_FILE, parseManifest, type ManifestFile } from '../weights/manifest.ts';
import { formatS3Uri, objectKey, parseS3Uri, type S3Location } from '../weights/s3_location.ts';
import type { EdgeModelBytes } from './edge_model.ts';

export type S3Settings = {
  uri: string;
  endpoint?: string;
  region?: string;
  credentials?: { accessKeyId: string; secretAccessKey: string; sessionToken?: string }; // else the SDK's default chain
};
export type EdgeModelFiles = EdgeModelBytes & { tokenizer: string; tokenizerConfig: string | null };

const hex = (digest: ArrayBuffer) => [...new Uint8Array(digest)].map((b) => b.toString(16).padStart(2, '0')).join('');

async function get(client: S3Client, at: S3Location, path: string, range?: [number, number]): Promise<Uint8Array> {
  try {
    const res = await client.send(new GetObjectCommand({ Bucket: at.bucket, Key: objectKey(at, path), ...(range ? { Range: `bytes=${range[0]}-${range[1] - 1}` } : {}) }));
    return await res.Body!.transformToByteArray();
  } catch (err) {
    throw new WeightsError(`${formatS3Uri(at, path)}: ${(err as Error).name === 'NoSuchKey' ? 'not found' : (err as Error).message}`);
  }
}

// A whole file, chunk by chunk, each verified before it is copied in.
async function fetchVerified(client: S3Client, at: S3Location, file: ManifestFile): Promise<Uint8Array> {
  const out = new Uint8Array(file.size);
  for (const chunk of file.chunks) {
    const bytes = await get(client, at, file.path, [chunk.offset, chunk.offset + chunk.size]);
    const sha256 = hex(await crypto.subtle.digest('SHA-256', bytes as Uint8Array<ArrayBuffer>));
    if (bytes.length !== chunk.size || sha256 !== chunk.sha256)
      throw new ChecksumError(`${formatS3Uri(at, file.path)}: bytes [${chunk.offset}, +${chunk.size}) do not match the manifest (sha256 ${sha256}, expected ${chunk.sha256}): push the model again`);
    out.set(bytes, chunk.offset);
  }
  return out;
}

export async function fetchEdgeModel(s: S3Settings): Promise<EdgeModelFiles> {
  const at = parseS3Uri(s.uri);
  const client = new S3Client({
    region: s.region ?? 'us-east-1',
    ...(s.credentials ? { credentials: s.credentials } : {}),
    ...(s.endpoint ? { endpoint: s.endpoint, forcePathStyle: true, requestChecksumCalculation: 'WHEN_REQUIRED', responseChecksumValidation: 'WHEN_REQUIRED' } : {}),
  });
  const manifest = parseManifest(new TextDecoder().decode(await get(client, at, MANIFEST_FILE)), formatS3Uri(at, MANIFEST_FILE));
  const file = (path: string) => manifest.model.files.find((f) => f.path === path);
  const need = (path: string) => {
    const f = file(path);
    if (!f) throw new WeightsError(`${s.uri}: the edge node serves a model in one model.safetensors with config.json and tokenizer.json; ${path} is not in its manifest`);
    return fetchVerified(client, at, f);
  };
  const text = (b: Uint8Array) => new TextDecoder().decode(b);
  const [config, weights, tokenizer, tokenizerConfig] = await Promise.all([
    need('config.json').then(text),
    need('model.safetensors'),
    need('tokenizer.json').then(text),
    file('tokenizer_config.json') ? need('tokenizer_config.json').then(text) : null,
  ]);
  return { config, weights: weights.buffer as ArrayBuffer, tokenizer, tokenizerConfig };
}
