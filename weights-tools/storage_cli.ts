// `sirocco weights push|pull|verify`: moving a model between a local directory and S3
// (endpoint, region and credentials from the standard AWS environment; AWS_ENDPOINT_URL for an
// S3-compatible store). Each returns the process exit code.
import { access } from 'node:fs/promises';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { z } from 'zod';
import { fetchModel } from '../src/weights/fetch_model.ts';
import { describeNonFinite, scanNonFinite } from '../src/weights/finite_scan.ts';
import { verifyLocalModel } from '../src/weights/local_verify.ts';
import { DEFAULT_CHUNK_SIZE, MANIFEST_FILE } from '../src/weights/manifest.ts';
import { pushModel } from '../src/weights/push.ts';
import { verifyRemoteModel } from '../src/weights/remote_verify.ts';
import { isS3Uri } from '../src/weights/s3_location.ts';

const USAGE = {
  push: `usage: sirocco weights push DIR s3://bucket/prefix [--chunk-mb 64] [--quiet]
Uploads every file of the model in DIR, then manifest.json (per-file and per-chunk sha256).
  --chunk-mb N   checksum chunk size in MiB (default 64; fractions allowed, e.g. 0.25)
`,
  pull: `usage: sirocco weights pull s3://bucket/prefix DIR [--concurrency 8] [--quiet]
Downloads the model into DIR, verifying every chunk; an interrupted pull resumes.
`,
  verify: `usage: sirocco weights verify s3://bucket/prefix|DIR [--finite] [--quiet]
Reads every stored object (or every file in DIR) and checks it against manifest.json.
  --finite   also read every tensor of the model in DIR and name those holding NaN or Inf
             (checksums cannot tell: they vouch for the bytes pushed, not for their values);
             a DIR without manifest.json is then checked for finiteness only
`,
};
type Sub = keyof typeof USAGE;

const S3Uri = z.string().refine(isS3Uri, 'expected s3://bucket/prefix');
const PushArgs = z.object({
  positionals: z.tuple([z.string().min(1), S3Uri], { error: 'expected DIR and s3://bucket/prefix' }),
  'chunk-mb': z.coerce.number({ error: '--chunk-mb expects a number' }).positive('--chunk-mb must be positive').max(4096).optional(),
  quiet: z.boolean().default(false),
});
const PullArgs = z.object({
  positionals: z.tuple([S3Uri, z.string().min(1)], { error: 'expected s3://bucket/prefix and DIR' }),
  concurrency: z.coerce.number({ error: '--concurrency expects a number' }).int().min(1).max(64).default(8),
  quiet: z.boolean().default(false),
});
const VerifyArgs = z.object({
  positionals: z.tuple([z.string().min(1)], { error: 'expected one s3://bucket/prefix or DIR' }),
  finite: z.boolean().default(false),
  quiet: z.boolean().default(false),
});

/** parseArgs + zod: the options, or an exit code after printing what is wrong (or the help). */
function parse<T>(sub: Sub, argv: string[], schema: z.ZodType<T>, flags: Record<string, 'string' | 'boolean'>): T | number {
  let raw;
  try {
    const options = Object.fromEntries(Object.entries(flags).map(([k, type]) => [k, { type }]));
    raw = parseArgs({ args: argv, allowPositionals: true, strict: true, options: { ...options, help: { type: 'boolean', short: 'h' } } });
  } catch (err) {
    process.stderr.write(`sirocco weights ${sub}: ${(err as Error).message}\n\n${USAGE[sub]}`);
    return 1;
  }
  if (raw.values.help) {
    process.stdout.write(USAGE[sub]);
    return 0;
  }
  const parsed = schema.safeParse({ ...raw.values, positionals: raw.positionals });
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    process.stderr.write(`sirocco weights ${sub}: ${issue.message}\n\n${USAGE[sub]}`);
    return 1;
  }
  return parsed.data;
}

async function reportErrors(sub: Sub, task: () => Promise<void>): Promise<number> {
  try {
    await task();
    return 0;
  } catch (err) {
    process.stderr.write(`sirocco weights ${sub}: ${err instanceof Error ? err.message : String(err)}\n`);
    return 1;
  }
}

const mb = (bytes: number) => `${(bytes / 1e6).toFixed(1)} MB`;

export async function runPush(argv: string[]): Promise<number> {
  const o = parse('push', argv, PushArgs, { 'chunk-mb': 'string', quiet: 'boolean' });
  if (typeof o === 'number') return o;
  const [dir, uri] = o.positionals;
  const chunkSize = o['chunk-mb'] === undefined ? DEFAULT_CHUNK_SIZE : Math.max(1024, Math.round(o['chunk-mb'] * 2 ** 20));
  return reportErrors('push', async () => {
    const r = await pushModel(dir, uri, { chunkSize, progress: o.quiet ? null : process.stderr });
    process.stdout.write(`pushed ${r.uri}: ${r.files} files, ${mb(r.bytes)} (${mb(r.uploadedBytes)} uploaded${r.unchanged ? ', model unchanged' : ''})\n`);
  });
}

export async function runPull(argv: string[]): Promise<number> {
  const o = parse('pull', argv, PullArgs, { concurrency: 'string', quiet: 'boolean' });
  if (typeof o === 'number') return o;
  const [uri, dir] = o.positionals;
  return reportErrors('pull', async () => {
    const { stats } = await fetchModel(uri, { into: dir, concurrency: o.concurrency, progress: o.quiet ? null : process.stderr });
    process.stdout.write(`pulled ${uri} into ${dir}: ${stats.filesTotal} files, ${mb(stats.totalBytes)} verified (${mb(stats.verifiedBytes)} downloaded, ${mb(stats.cachedBytes)} already there)\n`);
  });
}

export async function runVerify(argv: string[]): Promise<number> {
  const o = parse('verify', argv, VerifyArgs, { finite: 'boolean', quiet: 'boolean' });
  if (typeof o === 'number') return o;
  const [target] = o.positionals;
  if (target.startsWith('hf:')) {
    process.stderr.write(`sirocco weights verify: hf: models are not supported yet: download them and pass the directory\n`);
    return 1;
  }
  if (o.finite && isS3Uri(target)) {
    process.stderr.write(`sirocco weights verify: --finite reads a local directory: 'sirocco weights pull ${target} DIR' first\n`);
    return 1;
  }
  let bad = false;
  const code = await reportErrors('verify', async () => {
    const progress = o.quiet ? null : process.stderr;
    if (!o.finite || isS3Uri(target) || (await hasManifest(target))) {
      const r = isS3Uri(target) ? await verifyRemoteModel(target, { progress }) : await verifyLocalModel(target, progress);
      process.stdout.write(`verified ${target}: ${r.files} files, ${mb(r.bytes)} match the manifest\n`);
    }
    if (!o.finite) return;
    const scan = await scanNonFinite(target, progress);
    bad = scan.nonFinite.length > 0;
    if (bad) process.stderr.write(`sirocco weights verify: ${target} has non-finite weights:\n${describeNonFinite(scan.nonFinite)}\n`);
    else process.stdout.write(`finite ${target}: ${scan.tensors} tensors, ${mb(scan.bytes)}, no NaN or Inf\n`);
  });
  return bad ? 1 : code;
}

const hasManifest = (dir: string) => access(join(dir, MANIFEST_FILE)).then(() => true, () => false);
