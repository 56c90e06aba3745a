// Column-chunked copies. Tensor parallelism splits attention's `wo` and the FFN's `w2` (every
// expert's too) by input columns (DESIGN.md §1): a shard needs columns [c0, c1) of every row,
// which in the row-major safetensors layout are (rows) short pieces spread over the whole
// tensor. So push also stores each such tensor re-laid out as column chunks: chunk c holds all
// rows × columns [c·W, (c+1)·W), row-major within the chunk, chunks back to back; a column
// slice aligned to W is then one contiguous byte range of the copy.
//
// W = 32 columns. For Q8_0 / Q4_0 a chunk is exactly one 32-weight block per row (34 / 18
// bytes), so whole blocks move. For F32 / F16 / BF16 a chunk row is 32 · element bytes; if cols
// is not a multiple of 32 the last chunk is narrower (cols mod 32 columns) — it still starts
// right after the full ones, so every chunk starts at c · rows · (full chunk row bytes).
// Worked example: F16 (4 rows, 80 cols), W 32 → chunks of 32, 32, 16 columns; chunk row bytes
// 64, 64, 32; chunk starts 0, 256, 512; total 640 = 4 · 80 · 2.
//
// One object per weights file holds the copies of that file's column-split tensors, in their
// order in the file: `sirocco-colchunks/<file>.bin` (a per-file object keeps each one bounded
// and lets an unchanged shard skip its upload, as the files themselves do).
import { relative, sep } from 'node:path';
import { loadModelFiles, type TensorLocation } from '../engine/model_files.ts';
import { DTYPE_BLOCKS, type Dtype } from '../engine/safetensors.ts';
import { WeightsError } from './errors.ts';

export const COLCHUNK_DIR = 'sirocco-colchunks';
export const COLCHUNK_COLS = 32;

export const colChunkObjectPath = (file: string): string => `${COLCHUNK_DIR}/${file}.bin`;

export const isKnownDtype = (dtype: string): dtype is Dtype => Object.hasOwn(DTYPE_BLOCKS, dtype);

/** Byte geometry of a 2-D tensor (rows, cols) and of its column-chunked copy. */
export type ColumnLayout = {
  rows: number;
  cols: number;
  width: number; // W, columns per chunk
  chunks: number;
  rowBytes: number; // one row of the original
  /** Bytes of `n` consecutive columns of one row; n a multiple of the dtype's block (32 for Q8_0/Q4_0). */
  colBytes(n: number): number;
  chunkCols(c: number): number; // W, or fewer for the last chunk
  chunkRowBytes(c: number): number; // one row of chunk c
  chunkStart(c: number): number; // chunk c's offset in the copy
};

export function columnLayout(dtype: string, shape: readonly number[], width = COLCHUNK_COLS): ColumnLayout {
  if (!isKnownDtype(dtype)) throw new WeightsError(`dtype ${dtype} has no known byte layout`);
  if (shape.length !== 2) throw new WeightsError(`column chunks need a 2-D tensor, got shape [${shape}]`);
  const [rows, cols] = shape as [number, number];
  const { elements, bytes } = DTYPE_BLOCKS[dtype];
  if (width % elements !== 0 || cols % elements !== 0) throw new WeightsError(`${dtype} [${shape}]: columns must come in whole blocks of ${elements}`);
  const colBytes = (n: number) => (n / elements) * bytes;
  const chunkCols = (c: number) => Math.min(width, cols - c * width);
  return {
    rows,
    cols,
    width,
    chunks: Math.ceil(cols / width),
    rowBytes: colBytes(cols),
    colBytes,
    chunkCols,
    chunkRowBytes: (c) => colBytes(chunkCols(c)),
    chunkStart: (c) => c * rows * colBytes(width),
  };
}

/** The column-chunked copy of a row-major tensor's bytes. */
export function toColumnChunks(src: Uint8Array, layout: ColumnLayout): Buffer {
  const source = Buffer.from(src.buffer, src.byteOffset, src.byteLength);
  if (source.length !== layout.rows * layout.rowBytes) throw new Error(`internal: ${source.length} bytes for ${layout.rows} rows of ${layout.rowBytes}`);
  const out = Buffer.allocUnsafe(source.length);
  const fullChunkRow = layout.colBytes(layout.width);
  for (let c = 0; c < layout.chunks; c++) {
    const piece = layout.chunkRowBytes(c);
    const base = layout.chunkStart(c);
    for (let r = 0; r < layout.rows; r++) {
      const from = r * layout.rowBytes + c * fullChunkRow;
      source.copy(out, base + r * piece, from, from + piece);
    }
  }
  return out;
}

/**
 * Per weights file (its path relative to `dir`), the byte offsets of the tensors tensor
 * parallelism splits by columns: `wo`, dense `w2`, every expert's `w2`. Found through the
 * engine's own model reader, so no tensor name is spelled here.
 */
export async function columnSplitOffsets(dir: string): Promise<Map<string, Set<number>>> {
  let model;
  try {
    model = await loadModelFiles(dir);
  } catch (err) {
    throw new WeightsError(`${dir}: cannot find the tensors to store column-chunked: ${(err as Error).message}`, { cause: err });
  }
  const paths = model.files.map((abs) => relative(dir, abs).split(sep).join('/'));
  const found = new Map<string, Set<number>>();
  const add = (t: TensorLocation | undefined) => {
    if (!t) return;
    const file = paths[t.file]!;
    if (!found.has(file)) found.set(file, new Set());
    found.get(file)!.add(t.offset);
  };
  for (const layer of model.tensors.layers) {
    add(layer.wo);
    add(layer.w2);
    for (const e of layer.experts ?? []) add(e.w2);
  }
  return found;
}
