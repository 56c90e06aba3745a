// What `--model` accepts: a local directory, `s3://bucket/prefix` (fetched into the local
// cache and fully verified before this returns), or `hf:org/name[@revision]` (the Hub's cache).
import { stat } from 'node:fs/promises';
import { basename, join, resolve } from 'node:path';
import { WeightsError } from './errors.ts';
import { downloadHfModel, parseHfUri } from './hf_hub.ts';
import { fetchModel, type FetchStats } from './fetch_model.ts';
import { isS3Uri, parseS3Uri } from './s3_location.ts';
import type { ProgressSink } from './transfer_progress.ts';

export type ResolveModelOptions = {
  /** Called as verified chunks arrive (remote models only). */
  onProgress?: (stats: FetchStats) => void;
  /** Cache root for remote models (default SIROCCO_CACHE_DIR, else ~/.cache/sirocco/models). */
  cacheDir?: string;
  /** Counters updated in place while fetching, e.g. for a node's metrics. */
  stats?: FetchStats;
  /** Where the progress line goes (default stderr); null for none. */
  progress?: ProgressSink | null;
  signal?: AbortSignal;
};

const ACCEPTED = 'expected a model directory, s3://bucket/prefix or hf:org/name[@revision]';

/** The local directory holding the model `uri` names; remote models are downloaded and verified first. */
export async function resolveModelDir(uri: string, options: ResolveModelOptions = {}): Promise<string> {
  if (uri.startsWith('hf:')) return downloadHfModel(parseHfUri(uri));
  if (isS3Uri(uri)) {
    const { dir } = await fetchModel(uri, {
      cacheDir: options.cacheDir,
      stats: options.stats,
      progress: options.progress,
      signal: options.signal,
      onChunk: options.onProgress && ((_event, stats) => options.onProgress!(stats)),
    });
    return dir;
  }
  if (/^[a-z][a-z0-9+.-]*:\/\//i.test(uri)) throw new WeightsError(`${uri}: unsupported model location: ${ACCEPTED}`);
  const info = await stat(uri).catch(() => null);
  // Named like the loader's own errors (the first file it would miss), plus what --model takes.
  if (info === null) throw new WeightsError(`${join(uri, 'config.json')}: not found: no such model directory (${ACCEPTED})`);
  if (!info.isDirectory()) throw new WeightsError(`${uri}: not a directory: ${ACCEPTED}`);
  return uri;
}

/** A short name for the model `uri` names (a node's default model id): the last path or prefix part. */
export function modelNameOf(uri: string): string {
  if (isS3Uri(uri)) {
    const { bucket, prefix } = parseS3Uri(uri);
    return basename(prefix) || bucket;
  }
  return basename(resolve(uri));
}
