// Finds the tensors of a model directory that hold NaN or ±Inf. A model with such weights
// loads and runs, and answers garbage (token 0 forever) — the manifest's checksums cannot
// tell, since they vouch only that the bytes are the ones that were pushed. Reads every
// weight byte the engine would use; `sirocco weights verify --finite` and
// `sirocco node --check-finite` print what it finds.
//
// Non-finite means all exponent bits set: F32 0x7f800000, F16 0x7c00, BF16 0x7f80. In Q8_0 and
// Q4_0 blocks only the f16 scale can be non-finite (the quants are integers).
import { open } from 'node:fs/promises';
import { loadModelFiles, tensorLocations, type TensorLocation } from '../engine/model_files.ts';
import { DTYPE_BLOCKS, tensorByteSize, type Dtype } from '../engine/safetensors.ts';
import { TransferProgress, type ProgressSink } from './transfer_progress.ts';

export type NonFiniteTensor = { name: string; count: number; firstIndex: number };
export type FiniteScan = { tensors: number; bytes: number; nonFinite: NonFiniteTensor[] };

// Blocks (elements for float dtypes) read at a time: whole blocks, so a Q8_0/Q4_0 scale is
// always at a multiple of the block size in the buffer. 128 Ki blocks: 512 KiB of F32.
const CHUNK_BLOCKS = 1 << 17;

// Non-finite values among `n` blocks at the start of `bytes`, and the first one's element index.
function scanBlocks(dtype: Dtype, bytes: Uint8Array, n: number): { count: number; first: number } {
  let count = 0;
  let first = -1;
  const hit = (element: number) => {
    if (count++ === 0) first = element;
  };
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (dtype === 'F32') {
    const u = new Uint32Array(bytes.buffer, bytes.byteOffset, n);
    for (let i = 0; i < n; i++) if ((u[i]! & 0x7f800000) === 0x7f800000) hit(i);
  } else if (dtype === 'F16' || dtype === 'BF16') {
    const mask = dtype === 'F16' ? 0x7c00 : 0x7f80;
    const u = new Uint16Array(bytes.buffer, bytes.byteOffset, n);
    for (let i = 0; i < n; i++) if ((u[i]! & mask) === mask) hit(i);
  } else {
    const { bytes: size, elements } = DTYPE_BLOCKS[dtype];
    for (let b = 0; b < n; b++) if ((view.getUint16(b * size, true) & 0x7c00) === 0x7c00) hit(b * elements);
  }
  return { count, first };
}

async function scanTensor(path: string, t: TensorLocation, progress: TransferProgress): Promise<{ count: number; first: number }> {
  const { bytes: blockBytes, elements } = DTYPE_BLOCKS[t.dtype];
  const total = tensorByteSize(t.shape, t.dtype) ?? 0;
  const blocks = total / blockBytes;
  // An ArrayBuffer of its own, so typed views start 4-byte aligned whatever the file offset.
  const buffer = new Uint8Array(new ArrayBuffer(CHUNK_BLOCKS * blockBytes));
  let count = 0;
  let first = -1;
  const fh = await open(path, 'r');
  try {
    for (let done = 0; done < blocks; ) {
      const n = Math.min(CHUNK_BLOCKS, blocks - done);
      const want = n * blockBytes;
      for (let got = 0; got < want; ) {
        const { bytesRead } = await fh.read(buffer, got, want - got, t.offset + done * blockBytes + got);
        if (bytesRead === 0) throw new Error(`${path}: tensor '${t.name}' ends past the end of the file`);
        got += bytesRead;
      }
      const r = scanBlocks(t.dtype, buffer, n);
      if (r.count > 0 && count === 0) first = done * elements + r.first;
      count += r.count;
      done += n;
      progress.advance(want);
    }
  } finally {
    await fh.close();
  }
  return { count, first };
}

/** Every tensor the engine loads from `dir`, checked for NaN and ±Inf. */
export async function scanNonFinite(dir: string, progressSink: ProgressSink | null = process.stderr): Promise<FiniteScan> {
  const model = await loadModelFiles(dir);
  // A tied lm_head is the embedding itself (another object, the same bytes): read it once.
  const seen = new Set<string>();
  const tensors = tensorLocations(model).filter((t) => !seen.has(`${t.file}:${t.offset}`) && seen.add(`${t.file}:${t.offset}`));
  const bytes = tensors.reduce((n, t) => n + (tensorByteSize(t.shape, t.dtype) ?? 0), 0);
  const progress = new TransferProgress(`finite check ${dir}`, bytes, progressSink);
  const nonFinite: NonFiniteTensor[] = [];
  try {
    for (const t of tensors) {
      const r = await scanTensor(model.files[t.file]!, t, progress);
      if (r.count > 0) nonFinite.push({ name: t.name, count: r.count, firstIndex: r.first });
    }
  } catch (err) {
    progress.abandon();
    throw err;
  }
  progress.finish(`${tensors.length} tensors, ${nonFinite.length} with NaN or Inf`);
  return { tensors: tensors.length, bytes, nonFinite };
}

/** One line per bad tensor, for errors and the CLI. */
export function describeNonFinite(found: readonly NonFiniteTensor[]): string {
  return found.map((t) => `tensor '${t.name}': ${t.count} NaN/Inf value${t.count === 1 ? '' : 's'} (first at element ${t.firstIndex})`).join('\n');
}
