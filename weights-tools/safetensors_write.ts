// Streaming safetensors writer (format of DESIGN §2): 8-byte little-endian header length,
// JSON header padded with spaces so tensor data starts 8-byte aligned, then every tensor's
// bytes back to back in header order. Tensors are generated chunk by chunk, so a 3 GB file
// never sits in memory.
import * as fs from 'node:fs';
import * as os from 'node:os';
import type { WeightDtype } from './make_tiny_options.ts';
import { allocateEncoded, dtypeLayout, TensorFiller } from './tensor_fill.ts';
import { safetensorsPrefix } from './quantize_safetensors.ts';
import { elementCount, type TensorSpec } from './tensor_plan.ts';

const chunkBytes = 4 << 20;

export const tensorBytes = (spec: TensorSpec, dtype: WeightDtype): number =>
  elementCount(spec.shape) * dtypeLayout[dtype].bytes;

/** The file prefix: length field + JSON header, padded to a multiple of 8 bytes in all. */
export function safetensorsHeader(tensors: readonly TensorSpec[], dtype: WeightDtype): Buffer {
  const entries = tensors.map((spec) => ({ name: spec.name, dtype: dtypeLayout[dtype].safetensors, shape: [...spec.shape] }));
  return safetensorsPrefix(entries, { format: 'pt' });
}

/**
 * Writes one safetensors file; `onBytes` hears of every chunk written (progress).
 * Returns the file's size in bytes.
 */
export function writeSafetensors(
  path: string,
  tensors: readonly TensorSpec[],
  dtype: WeightDtype,
  seed: number,
  onBytes: (bytes: number) => void,
): number {
  // Typed arrays use the CPU's byte order; the format is little-endian.
  if (os.endianness() !== 'LE') throw new Error('make-tiny writes safetensors only on little-endian machines');
  const elementBytes = dtypeLayout[dtype].bytes;
  const chunk = allocateEncoded(dtype, chunkBytes / elementBytes);
  const chunkView = new Uint8Array(chunk.buffer);
  const fd = fs.openSync(path, 'w');
  try {
    const prefix = safetensorsHeader(tensors, dtype);
    fs.writeSync(fd, prefix);
    let written = prefix.length;
    for (const spec of tensors) {
      const filler = new TensorFiller(spec.name, spec.init, dtype, seed);
      for (let left = elementCount(spec.shape); left > 0; ) {
        const n = Math.min(left, chunk.length);
        filler.fill(chunk, n);
        writeFully(fd, chunkView, n * elementBytes);
        written += n * elementBytes;
        onBytes(n * elementBytes);
        left -= n;
      }
    }
    return written;
  } finally {
    fs.closeSync(fd);
  }
}

/** writeSync may write less than asked (large writes, some filesystems); loop until done. */
function writeFully(fd: number, bytes: Uint8Array, length: number): void {
  for (let done = 0; done < length; ) done += fs.writeSync(fd, bytes, done, length - done);
}
