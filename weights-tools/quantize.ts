// quantizeModel: a model directory → a copy whose big matrices are Q8_0 or Q4_0.
//
// What is quantized: every 2-D float tensor whose rows hold whole blocks (cols % 32 == 0) —
// attention q/k/v/o, the FFN or every expert's w1/w2/w3, lm_head and the token embeddings —
// except the MoE router (`…block_sparse_moe.gate` / `…feed_forward.gate`): it is tiny, and
// rounding it can flip which experts a token picks. Norms (1-D) and any matrix whose rows do
// not divide into blocks stay in their source dtype, byte for byte.
//
// Layout: one output file per source file, same names (so shards and their index keep their
// shape), each holding the same tensors with the same logical shapes. Inside a file the float
// tensors come first: their sizes are multiples of 8, so they stay 8-byte aligned; the blocks
// after them are 2-byte aligned, which is all their f16 scales need. Each file's metadata says
// `quantization: q8_0`; config.json gains `quantization_config: {quant_method: "sirocco",
// format}`; tokenizer files are copied.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { z } from 'zod';
import { isQuantDtype, readSafetensorsHeader, type SafetensorsTensor } from '../src/engine/safetensors.ts';
import { decodeFloats, QK, quantizeBlocks, quantLayout, type QuantFormat } from './quantize_blocks.ts';
import { WriteProgress } from './progress.ts';
import { entryBytes, writeSafetensorsStreaming, type TensorEntry } from './quantize_safetensors.ts';

export type QuantizeOptions = { source: string; to: QuantFormat; out: string; quiet?: boolean };
export type QuantizeSummary = { files: string[]; quantized: number; kept: string[]; bytesIn: number; bytesOut: number };

const INDEX = 'model.safetensors.index.json';
const ROUTER = /\.(block_sparse_moe|feed_forward)\.gate\.weight$/;
// Files that travel with the weights unchanged (config.json is rewritten, params.json copied).
const COPIED = /^(tokenizer.*|special_tokens_map\.json|generation_config\.json|chat_template.*|params\.json)$/;
const STALE = /^(model(-\d{5}-of-\d{5})?\.safetensors(\.index\.json)?|consolidated\.safetensors)(\.partial)?$/;
const ROW_CHUNK_VALUES = 1 << 20; // values decoded per read: 4 MB of f32

const ShardIndex = z.looseObject({ weight_map: z.record(z.string(), z.string()) });
const HfConfig = z.looseObject({ quantization_config: z.unknown().optional() });

type SourceTensor = SafetensorsTensor & { file: string };
type Planned = { entry: TensorEntry; source: SourceTensor; quantize: boolean };

const exists = (p: string) => fs.existsSync(p);
function readJson<T>(p: string, schema: z.ZodType<T>): T {
  let json: unknown;
  try {
    json = JSON.parse(fs.readFileSync(p, 'utf8'));
  } catch (err) {
    throw new Error(`${p}: cannot read JSON (${(err as Error).message})`);
  }
  const parsed = schema.safeParse(json);
  if (!parsed.success) throw new Error(`${p}: ${parsed.error.issues[0]!.path.join('.') || 'value'}: ${parsed.error.issues[0]!.message}`);
  return parsed.data;
}
const writeJson = (p: string, v: unknown) => fs.writeFileSync(p, `${JSON.stringify(v, null, 2)}\n`);

/** The weight files of a model directory: an index's shards, model.safetensors, or consolidated. */
function weightFiles(dir: string): { files: string[]; index: z.infer<typeof ShardIndex> | null } {
  if (exists(path.join(dir, INDEX))) {
    const index = readJson(path.join(dir, INDEX), ShardIndex);
    return { files: [...new Set(Object.values(index.weight_map))].sort(), index };
  }
  for (const single of ['model.safetensors', 'consolidated.safetensors'])
    if (exists(path.join(dir, single))) return { files: [single], index: null };
  throw new Error(`${dir}: no ${INDEX}, model.safetensors or consolidated.safetensors`);
}

function plan(t: SourceTensor, format: QuantFormat): Planned {
  if (isQuantDtype(t.dtype)) throw new Error(`${t.file}: tensor ${t.name} is already ${t.dtype}: quantize from a float model`);
  const quantize = t.shape.length === 2 && t.shape[1]! % QK === 0 && !ROUTER.test(t.name);
  const dtype = quantize ? quantLayout[format].dtype : t.dtype;
  return { entry: { name: t.name, dtype, shape: t.shape }, source: t, quantize };
}

/** Streams one tensor: float tensors as stored, quantized ones row chunk by row chunk. */
function produce(p: Planned, fd: number, format: QuantFormat, sink: (b: Uint8Array) => void): void {
  const { source: t } = p;
  if (!p.quantize) {
    const chunk = Buffer.alloc(Math.min(t.bytes, 4 * ROW_CHUNK_VALUES));
    for (let done = 0; done < t.bytes; ) {
      const n = Math.min(chunk.length, t.bytes - done);
      readFully(fd, chunk, n, t.offset + done);
      sink(chunk.subarray(0, n));
      done += n;
    }
    return;
  }
  const [rows, cols] = t.shape as [number, number];
  const srcRowBytes = t.bytes / rows;
  const outRowBytes = (cols / QK) * quantLayout[format].blockBytes;
  const chunkRows = Math.max(1, Math.floor(ROW_CHUNK_VALUES / cols));
  const raw = Buffer.alloc(chunkRows * srcRowBytes);
  const values = new Float32Array(chunkRows * cols);
  const out = new Uint8Array(chunkRows * outRowBytes);
  for (let r = 0; r < rows; r += chunkRows) {
    const n = Math.min(chunkRows, rows - r);
    readFully(fd, raw, n * srcRowBytes, t.offset + r * srcRowBytes);
    const v = values.subarray(0, n * cols);
    decodeFloats(t.dtype as 'F32' | 'F16' | 'BF16', raw.subarray(0, n * srcRowBytes), v);
    const o = out.subarray(0, n * outRowBytes);
    quantizeBlocks(format, v, o, `tensor ${t.name}`);
    sink(o);
  }
}

function readFully(fd: number, into: Buffer, length: number, position: number): void {
  for (let done = 0; done < length; ) {
    const n = fs.readSync(fd, into, done, length - done, position + done);
    if (n === 0) throw new Error(`unexpected end of file at byte ${position + done}`);
    done += n;
  }
}

export async function quantizeModel(options: QuantizeOptions): Promise<QuantizeSummary> {
  const { source, to: format, out } = options;
  if (path.resolve(source) === path.resolve(out)) throw new Error('--out must differ from the source directory');
  const configPath = path.join(source, 'config.json');
  const config = exists(configPath) ? readJson(configPath, HfConfig) : null;
  if (config?.quantization_config !== undefined) throw new Error(`${configPath}: the model is quantized already`);
  const { files, index } = weightFiles(source);

  const perFile = await Promise.all(
    files.map(async (file) => {
      const tensors = await readSafetensorsHeader(path.join(source, file));
      const planned = tensors.map((t) => plan({ ...t, file: path.join(source, file) }, format));
      // Float tensors first (8-byte aligned), then blocks; each group in source order.
      return { file, planned: [...planned.filter((p) => !p.quantize), ...planned.filter((p) => p.quantize)] };
    }),
  );
  const all = perFile.flatMap((f) => f.planned);
  const bytesIn = all.reduce((n, p) => n + p.source.bytes, 0);
  const bytesOut = all.reduce((n, p) => n + entryBytes(p.entry), 0);

  fs.mkdirSync(out, { recursive: true });
  for (const name of fs.readdirSync(out)) if (STALE.test(name)) fs.rmSync(path.join(out, name));
  const progress = new WriteProgress('quantize', bytesOut, options.quiet ? null : process.stderr);
  const metadata = { format: 'pt', quantization: format };
  for (const { file, planned } of perFile) {
    const fd = fs.openSync(path.join(source, file), 'r');
    try {
      const byName = new Map(planned.map((p) => [p.entry.name, p]));
      await writeSafetensorsStreaming(
        path.join(out, file),
        planned.map((p) => p.entry),
        metadata,
        (e, sink) => produce(byName.get(e.name)!, fd, format, sink),
        (n) => progress.advance(n),
      );
    } finally {
      fs.closeSync(fd);
    }
  }
  if (index) writeJson(path.join(out, INDEX), { ...index, metadata: { total_size: bytesOut } });
  if (config) writeJson(path.join(out, 'config.json'), { ...config, quantization_config: { quant_method: 'sirocco', format } });
  for (const name of fs.readdirSync(source))
    if (COPIED.test(name) && fs.statSync(path.join(source, name)).isFile()) fs.copyFileSync(path.join(source, name), path.join(out, name));

  const quantized = all.filter((p) => p.quantize).length;
  const kept = all.filter((p) => !p.quantize && p.source.shape.length === 2).map((p) => p.entry.name);
  progress.finish(`wrote ${out} (${format}: ${quantized} matrices quantized, ${all.length - quantized} tensors kept) from ${(bytesIn / (1 << 20)).toFixed(1)} MB`);
  return { files, quantized, kept, bytesIn, bytesOut };
}
