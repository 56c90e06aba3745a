// manifest.json: what a model in storage is made of, written last by `sirocco weights push`.
// Every file has a sha256, and so has every fixed-size chunk, so a downloader can verify each
// ranged GET as it arrives and resume by chunk. Weight files list their tensors' byte ranges,
// so a tensor-parallel rank can later fetch only the chunks that hold its slices.
import { createReadStream } from 'node:fs';
import { readdir, readFile, stat } from 'node:fs/promises';
import { join, relative, sep } from 'node:path';
import { z } from 'zod';
import { readSafetensorsHeader } from '../engine/safetensors.ts';
import { hashChunkedStream } from './chunk_hashing.ts';
import { WeightsError } from './errors.ts';

export const MANIFEST_FILE = 'manifest.json';
export const DEFAULT_CHUNK_SIZE = 64 * 1024 * 1024;

const sha256Hex = z.string().regex(/^[0-9a-f]{64}$/, 'expected a lowercase hex sha256');
const byteCount = z.number().int().nonnegative().max(Number.MAX_SAFE_INTEGER);

/** Relative, forward-slash, no `..`, not hidden: a manifest cannot write outside its directory. */
export const ModelFilePath = z
  .string()
  .min(1)
  .refine(
    (p) => !p.startsWith('/') && !p.includes('\\') && p.split('/').every((part) => part !== '' && part !== '..' && !part.startsWith('.')),
    'file paths must be relative, use "/", and contain no empty, hidden or ".." parts',
  );

export const ManifestTensor = z.object({
  name: z.string().min(1),
  dtype: z.string().min(1), // open-ended: quantized formats may add their own dtypes
  shape: z.array(byteCount),
  offset: byteCount, // absolute byte offset in the file
  bytes: byteCount,
});

export const ManifestChunk = z.object({ offset: byteCount, size: byteCount, sha256: sha256Hex });
export type ManifestChunk = z.infer<typeof ManifestChunk>;

export const FileKind = z.enum(['weights', 'tokenizer', 'config', 'index', 'other']);
export type FileKind = z.infer<typeof FileKind>;

export const ManifestFile = z
  .object({
    path: ModelFilePath,
    size: byteCount,
    sha256: sha256Hex,
    chunk_size: z.number().int().positive(),
    chunks: z.array(ManifestChunk),
    kind: FileKind,
    tensors: z.array(ManifestTensor).optional(),
  })
  .superRefine((f, ctx) => {
    // Chunks must tile the file exactly: chunk i covers [i·chunk_size, min(size, (i+1)·chunk_size)).
    const expected = Math.ceil(f.size / f.chunk_size);
    if (f.chunks.length !== expected)
      ctx.addIssue({ code: 'custom', message: `${f.path}: ${f.chunks.length} chunks, expected ${expected}`, path: ['chunks'] });
    f.chunks.forEach((c, i) => {
      const offset = i * f.chunk_size;
      const size = Math.min(f.chunk_size, f.size - offset);
      if (c.offset !== offset || c.size !== size)
        ctx.addIssue({ code: 'custom', message: `${f.path}: chunk ${i} is [${c.offset}, +${c.size}), expected [${offset}, +${size})`, path: ['chunks', i] });
    });
    for (const t of f.tensors ?? [])
      if (t.offset + t.bytes > f.size)
        ctx.addIssue({ code: 'custom', message: `${f.path}: tensor ${t.name} ends past the file`, path: ['tensors'] });
  });
export type ManifestFile = z.infer<typeof ManifestFile>;

export const Manifest = z
  .object({
    version: z.literal(1),
    created_at: z.string().min(1),
    model: z.object({
      config: z.record(z.string(), z.unknown()), // config.json (or Mistral's params.json) as written
      files: z.array(ManifestFile).min(1),
    }),
  })
  .superRefine((m, ctx) => {
    const seen = new Set<string>();
    for (const f of m.model.files) {
      if (seen.has(f.path)) ctx.addIssue({ code: 'custom', message: `file ${f.path} is listed twice`, path: ['model', 'files'] });
      seen.add(f.path);
    }
  });
export type Manifest = z.infer<typeof Manifest>;

/** Parses manifest.json bytes; `where` names the source in errors (a URI or a path). */
export function parseManifest(text: string, where: string): Manifest {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (err) {
    throw new WeightsError(`${where}: manifest is not valid JSON (${(err as Error).message}); push the model again`);
  }
  const version = (json as { version?: unknown } | null)?.version;
  if (typeof version === 'number' && version !== 1)
    throw new WeightsError(`${where}: manifest version ${version} is newer than this sirocco understands (1): upgrade sirocco`);
  const parsed = Manifest.safeParse(json);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    throw new WeightsError(`${where}: invalid manifest at ${issue.path.join('.') || '(root)'}: ${issue.message}; push the model again`);
  }
  return parsed.data;
}

/** Which part of a model a file is, from its Hugging Face / Mistral file name. */
export function fileKind(path: string): FileKind {
  const name = path.split('/').pop()!;
  if (name.endsWith('.safetensors.index.json')) return 'index';
  if (name.endsWith('.safetensors')) return 'weights';
  if (name === 'config.json' || name === 'params.json' || name === 'generation_config.json') return 'config';
  if (name.startsWith('tokenizer') || name === 'special_tokens_map.json' || name === 'tekken.json') return 'tokenizer';
  return 'other';
}

/** Files that make up the model in `dir`: everything but hidden files, partial downloads and the manifest. */
export async function listModelFiles(dir: string): Promise<string[]> {
  const entries = await readdir(dir, { recursive: true, withFileTypes: true });
  return entries
    .filter((e) => e.isFile())
    .map((e) => relative(dir, join(e.parentPath, e.name)).split(sep).join('/'))
    .filter((p) => p !== MANIFEST_FILE && !p.endsWith('.partial') && ModelFilePath.safeParse(p).success)
    .sort();
}

async function readModelConfig(dir: string): Promise<Record<string, unknown>> {
  for (const name of ['config.json', 'params.json']) {
    let text: string;
    try {
      text = await readFile(join(dir, name), 'utf8');
    } catch {
      continue;
    }
    let json: unknown;
    try {
      json = JSON.parse(text);
    } catch (err) {
      throw new WeightsError(`${join(dir, name)}: not valid JSON (${(err as Error).message})`);
    }
    if (typeof json === 'object' && json !== null && !Array.isArray(json)) return json as Record<string, unknown>;
    throw new WeightsError(`${join(dir, name)}: expected a JSON object`);
  }
  throw new WeightsError(`${dir}: not a model directory (no config.json or params.json)`);
}

export type BuildManifestOptions = {
  chunkSize?: number;
  /** Called as files are hashed: bytes done so far out of the directory's total. */
  onProgress?: (doneBytes: number, totalBytes: number) => void;
};

/** Hashes every file of the model in `dir` (each read once) into a version-1 manifest. */
export async function buildManifest(dir: string, options: BuildManifestOptions = {}): Promise<Manifest> {
  const chunkSize = options.chunkSize ?? DEFAULT_CHUNK_SIZE;
  if (!Number.isSafeInteger(chunkSize) || chunkSize < 1) throw new WeightsError(`chunk size must be a positive integer, got ${chunkSize}`);
  const config = await readModelConfig(dir);
  const paths = await listModelFiles(dir);
  const sizes = await Promise.all(paths.map(async (p) => (await stat(join(dir, p))).size));
  const total = sizes.reduce((a, b) => a + b, 0);
  let done = 0;
  const files: ManifestFile[] = [];
  for (const path of paths) {
    const full = join(dir, path);
    const kind = fileKind(path);
    const hashed = await hashChunkedStream(createReadStream(full, { highWaterMark: 4 << 20 }), chunkSize, (bytes) => options.onProgress?.((done += bytes), total));
    const tensors = kind === 'weights' ? (await readSafetensorsHeader(full)).map(({ name, dtype, shape, offset, bytes }) => ({ name, dtype, shape, offset, bytes })) : undefined;
    files.push({ path, kind, size: hashed.size, sha256: hashed.sha256, chunk_size: chunkSize, chunks: hashed.chunks, ...(tensors ? { tensors } : {}) });
  }
  return Manifest.parse({ version: 1, created_at: new Date().toISOString(), model: { config, files } });
}
