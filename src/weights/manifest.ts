// manifest.json: what a model in storage is made of, written last by `sirocco weights push`.
// Every file has a sha256, and so has every fixed-size chunk, so a downloader can verify each
// ranged GET as it arrives and resume by chunk.
//
// Version 2 adds what a tensor-parallel shard needs to fetch only its slices (fetch_slices.ts):
// - `model.block_bytes` (B, default 1 MiB): every tensor's own byte range is cut into blocks of
//   B bytes (the last one short) and each block's sha256 is listed in the tensor's `blocks`,
//   so any sub-range is verified by fetching only its enclosing blocks, not a 64 MiB chunk;
// - each weights file's `header`: bytes [0, 8 + header length) and their sha256, so the
//   safetensors header can be fetched alone and trusted;
// - `model.colchunks`: column-chunked copies (colchunks.ts) of the tensors that shards split by
//   input columns, one extra object per weights file, with their own blocks.
// Version 1 manifests (none of the above) are still read; the slice fetcher falls back to
// their 64 MiB chunks. Block i of a range [base, base + bytes) is
// [base + i·B, min(base + bytes, base + (i + 1)·B)): B 4096, bytes 10000 → 4096, 4096, 1808.
import { readdir } from 'node:fs/promises';
import { join, relative, sep } from 'node:path';
import { z } from 'zod';
import { COLCHUNK_DIR } from './colchunks.ts';
import { WeightsError } from './errors.ts';

export const MANIFEST_FILE = 'manifest.json';
export const MANIFEST_VERSION = 2;
export const DEFAULT_CHUNK_SIZE = 64 * 1024 * 1024;
export const DEFAULT_BLOCK_BYTES = 1024 * 1024;

const sha256Hex = z.string().regex(/^[0-9a-f]{64}$/, 'expected a lowercase hex sha256');
const byteCount = z.number().int().nonnegative().max(Number.MAX_SAFE_INTEGER);

/** Blocks of `blockBytes` needed to cover `bytes` bytes (the last one may be short). */
export const blockCount = (bytes: number, blockBytes: number): number => Math.ceil(bytes / blockBytes);

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
  blocks: z.array(sha256Hex).optional(), // v2: sha256 of each block_bytes block of [offset, offset + bytes)
});
export type ManifestTensor = z.infer<typeof ManifestTensor>;

export const ManifestChunk = z.object({ offset: byteCount, size: byteCount, sha256: sha256Hex });
export type ManifestChunk = z.infer<typeof ManifestChunk>;

export const FileKind = z.enum(['weights', 'tokenizer', 'config', 'index', 'other']);
export type FileKind = z.infer<typeof FileKind>;

/** v2: bytes [0, bytes) of a safetensors file: the 8-byte length and the JSON header. */
export const ManifestHeader = z.object({ bytes: byteCount, sha256: sha256Hex });

export const ManifestFile = z
  .object({
    path: ModelFilePath,
    size: byteCount,
    sha256: sha256Hex,
    chunk_size: z.number().int().positive(),
    chunks: z.array(ManifestChunk),
    kind: FileKind,
    header: ManifestHeader.optional(),
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
    if (f.header && f.header.bytes > f.size)
      ctx.addIssue({ code: 'custom', message: `${f.path}: header ends past the file`, path: ['header'] });
  });
export type ManifestFile = z.infer<typeof ManifestFile>;

/** One tensor in a column-chunked object: same bytes as the original, other order. */
export const ColChunkTensor = z.object({
  name: z.string().min(1),
  offset: byteCount, // in the column-chunked object
  bytes: byteCount,
  chunk_cols: z.number().int().positive(), // W: columns per chunk (the last chunk may be narrower)
  blocks: z.array(sha256Hex),
});
export type ColChunkTensor = z.infer<typeof ColChunkTensor>;

export const ColChunkObject = z.object({
  object: ModelFilePath, // relative to the model's prefix, e.g. sirocco-colchunks/model.safetensors.bin
  source: ModelFilePath, // the weights file its tensors come from
  size: byteCount,
  sha256: sha256Hex,
  tensors: z.array(ColChunkTensor).min(1),
});
export type ColChunkObject = z.infer<typeof ColChunkObject>;

function checkV2(model: { block_bytes?: number; files: ManifestFile[]; colchunks?: ColChunkObject[] }, ctx: z.RefinementCtx): void {
  const issue = (message: string, path: (string | number)[]) => ctx.addIssue({ code: 'custom', message, path: ['model', ...path] });
  const B = model.block_bytes;
  if (B === undefined) return issue('version 2 needs block_bytes', ['block_bytes']);
  if (model.colchunks === undefined) issue('version 2 needs colchunks (an empty list if none)', ['colchunks']);
  const tensors = new Map<string, { file: string; tensor: ManifestTensor }>();
  model.files.forEach((f, i) => {
    if (f.kind !== 'weights') return;
    if (!f.header) issue(`${f.path}: version 2 needs the header's range and sha256`, ['files', i, 'header']);
    for (const t of f.tensors ?? []) {
      tensors.set(t.name, { file: f.path, tensor: t });
      if (t.blocks?.length !== blockCount(t.bytes, B))
        issue(`${f.path}: tensor ${t.name} lists ${t.blocks?.length ?? 'no'} blocks, expected ${blockCount(t.bytes, B)}`, ['files', i, 'tensors']);
    }
  });
  const paths = new Set(model.files.map((f) => f.path));
  (model.colchunks ?? []).forEach((c, i) => {
    if (paths.has(c.object)) issue(`${c.object}: a column-chunked object may not share a model file's path`, ['colchunks', i]);
    let cursor = 0; // tensors tile the object in order, like a safetensors file's data
    for (const t of c.tensors) {
      const original = tensors.get(t.name);
      if (original?.file !== c.source || original.tensor.bytes !== t.bytes)
        issue(`${c.object}: tensor ${t.name} is not a ${t.bytes}-byte tensor of ${c.source}`, ['colchunks', i]);
      if (t.offset !== cursor) issue(`${c.object}: tensor ${t.name} starts at ${t.offset}, expected ${cursor}`, ['colchunks', i]);
      if (t.blocks.length !== blockCount(t.bytes, B))
        issue(`${c.object}: tensor ${t.name} lists ${t.blocks.length} blocks, expected ${blockCount(t.bytes, B)}`, ['colchunks', i]);
      cursor = t.offset + t.bytes;
    }
    if (cursor !== c.size) issue(`${c.object}: tensors end at ${cursor} but the object has ${c.size} bytes`, ['colchunks', i]);
  });
}

export const Manifest = z
  .object({
    version: z.union([z.literal(1), z.literal(2)]),
    created_at: z.string().min(1),
    model: z.object({
      config: z.record(z.string(), z.unknown()), // config.json (or Mistral's params.json) as written
      files: z.array(ManifestFile).min(1),
      block_bytes: z.number().int().positive().optional(), // v2
      colchunks: z.array(ColChunkObject).optional(), // v2
    }),
  })
  .superRefine((m, ctx) => {
    const seen = new Set<string>();
    for (const f of m.model.files) {
      if (seen.has(f.path)) ctx.addIssue({ code: 'custom', message: `file ${f.path} is listed twice`, path: ['model', 'files'] });
      seen.add(f.path);
    }
    if (m.version === 2) checkV2(m.model, ctx);
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
  if (typeof version === 'number' && version > MANIFEST_VERSION)
    throw new WeightsError(`${where}: manifest version ${version} is newer than this sirocco understands (1-${MANIFEST_VERSION}): upgrade sirocco`);
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

/** Files that make up the model in `dir`: everything but hidden files, partial downloads, the manifest and a copy of the column-chunked objects (push makes those). */
export async function listModelFiles(dir: string): Promise<string[]> {
  const entries = await readdir(dir, { recursive: true, withFileTypes: true });
  return entries
    .filter((e) => e.isFile())
    .map((e) => relative(dir, join(e.parentPath, e.name)).split(sep).join('/'))
    .filter((p) => p !== MANIFEST_FILE && !p.endsWith('.partial') && !p.startsWith(`${COLCHUNK_DIR}/`) && ModelFilePath.safeParse(p).success)
    .sort();
}

