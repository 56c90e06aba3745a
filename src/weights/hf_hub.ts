// `hf:org/name[@revision]` models from the Hugging Face Hub (or a mirror at HF_ENDPOINT),
// downloaded with @huggingface/hub into its standard cache layout, so a second start does not
// download again. HF_TOKEN is sent when set (gated and private models). Large files are
// checked against the sha256 the Hub lists for them (their LFS object id).
import { basename, join } from 'node:path';
import { listFiles, snapshotDownload } from '@huggingface/hub';
import { z } from 'zod';
import { hashLocalFile } from './local_verify.ts';

export type HfModelRef = { repo: string; revision: string };

const HfUri = z
  .string()
  .regex(/^hf:[\w.-]+\/[\w.-]+(@[\w./-]+)?$/, 'expected hf:org/name or hf:org/name@revision');

export function parseHfUri(uri: string): HfModelRef {
  const parsed = HfUri.safeParse(uri);
  if (!parsed.success) throw new Error(`${uri}: ${parsed.error.issues[0]!.message}`);
  const [repo, revision] = uri.slice(3).split('@') as [string, string | undefined];
  return { repo, revision: revision ?? 'main' };
}

export type HfDownloadOptions = {
  cacheDir?: string; // default: $SIROCCO_CACHE_DIR/hf, else the Hub library's own cache
  hubUrl?: string; // default: $HF_ENDPOINT, else huggingface.co
  accessToken?: string; // default: $HF_TOKEN
  log?: (line: string) => void;
};

export async function downloadHfModel(ref: HfModelRef, options: HfDownloadOptions = {}): Promise<string> {
  const params = {
    repo: ref.repo,
    revision: ref.revision,
    hubUrl: options.hubUrl ?? process.env.HF_ENDPOINT,
    accessToken: options.accessToken ?? process.env.HF_TOKEN,
  };
  const cacheDir = options.cacheDir ?? (process.env.SIROCCO_CACHE_DIR ? join(process.env.SIROCCO_CACHE_DIR, 'hf') : undefined);
  const log = options.log ?? ((line: string) => process.stderr.write(line + '\n'));
  log(`hf:${ref.repo}@${ref.revision}: downloading (files already in the cache are reused) …`);
  let dir: string;
  try {
    dir = await snapshotDownload({ ...params, cacheDir });
  } catch (err) {
    const hint = params.accessToken ? '' : ' (set HF_TOKEN for gated or private models)';
    throw new Error(`hf:${ref.repo}@${ref.revision}: download failed: ${(err as Error).message}${hint}`);
  }
  let checked = 0;
  // The snapshot directory is named after the commit it holds: list that commit, not a moving branch.
  for await (const file of listFiles({ ...params, revision: basename(dir), recursive: true })) {
    if (file.type !== 'file' || !file.lfs) continue;
    const actual = await hashLocalFile(join(dir, file.path));
    if (actual !== file.lfs.oid)
      throw new Error(`hf:${ref.repo}@${ref.revision}: ${file.path} has sha256 ${actual} but the Hub lists ${file.lfs.oid}: delete ${dir} and retry`);
    checked++;
  }
  log(`hf:${ref.repo}@${ref.revision}: ready in ${dir} (${checked} large files verified)`);
  return dir;
}
