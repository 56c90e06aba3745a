// Reads and validates a safetensors header without trusting anything in it.
// Layout: 8-byte little-endian header length N, N bytes of JSON, then the data; every
// tensor's data_offsets are relative to the start of the data. A file is accepted only if
// its tensors tile the data exactly: no overlap, no gap, no trailing bytes.
//
// Besides the float dtypes, Sirocco's quantized models (`sirocco weights quantize`) store 2-D
// weights in two block dtypes of llama.cpp, with the LOGICAL shape [rows, cols]: every 32
// consecutive weights of a row share one f16 scale, so cols % 32 must be 0 and a tensor takes
// rows · cols/32 blocks.   Q8_0: f16 scale + 32 int8 = 34 bytes   value = scale · q
//                          Q4_0: f16 scale + 16 bytes of nibbles = 18 bytes   value = scale · (n − 8)
// (Q4_0 byte j holds element j in its low nibble and element j + 16 in its high one.)
import { open } from 'node:fs/promises';
import { z } from 'zod';
import { ModelLoadError } from './errors.ts';

export const MAX_HEADER_BYTES = 100 * 1024 * 1024;

// Every dtype as blocks: `elements` consecutive values of the last dimension take `bytes`.
export const DTYPE_BLOCKS = {
  F32: { elements: 1, bytes: 4 },
  F16: { elements: 1, bytes: 2 },
  BF16: { elements: 1, bytes: 2 },
  Q8_0: { elements: 32, bytes: 34 },
  Q4_0: { elements: 32, bytes: 18 },
} as const;
export type Dtype = keyof typeof DTYPE_BLOCKS;
export type QuantDtype = 'Q8_0' | 'Q4_0';
export const isQuantDtype = (d: Dtype): d is QuantDtype => DTYPE_BLOCKS[d].elements > 1;
// Bytes per element: exact for whole rows (cols % 32 == 0): 34/32 and 18/32 are binary fractions.
export const DTYPE_BYTES = Object.fromEntries(
  Object.entries(DTYPE_BLOCKS).map(([d, b]) => [d, b.bytes / b.elements]),
) as Record<Dtype, number>;
const isDtype = (s: string): s is Dtype => Object.hasOwn(DTYPE_BLOCKS, s);

export type SafetensorsTensor = {
  name: string;
  dtype: Dtype;
  shape: number[];
  offset: number; // absolute byte offset in the file
  bytes: number;
};

const HeaderEntry = z.object({
  dtype: z.string(),
  shape: z.array(z.number().int().nonnegative()),
  data_offsets: z.tuple([z.number().int().nonnegative(), z.number().int().nonnegative()]),
});

// Bytes of a tensor: blocks × block size, refusing anything past 2^53 instead of silently
// rounding. The caller has checked that the last dimension holds whole blocks.
export function tensorByteSize(shape: readonly number[], dtype: Dtype): number | null {
  const { elements, bytes } = DTYPE_BLOCKS[dtype];
  let n = BigInt(bytes);
  for (const d of shape) n *= BigInt(d);
  n /= BigInt(elements);
  return n <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(n) : null;
}

// prefix: the file's first bytes, the whole header at least (a Buffer or any Uint8Array).
export function parseSafetensorsHeader(path: string, prefix: Uint8Array, fileSize: number): SafetensorsTensor[] {
  function fail(message: string): never {
    throw new ModelLoadError(`${path}: ${message}`);
  }
  if (fileSize < 8) fail(`truncated: ${fileSize} bytes, shorter than the 8-byte header length`);
  const headerLength = new DataView(prefix.buffer, prefix.byteOffset, prefix.byteLength).getBigUint64(0, true);
  if (headerLength > BigInt(MAX_HEADER_BYTES)) fail(`header length ${headerLength} exceeds the ${MAX_HEADER_BYTES}-byte limit`);
  const dataStart = 8 + Number(headerLength);
  if (dataStart > fileSize) fail(`header length ${headerLength} is longer than the file (${fileSize} bytes)`);
  if (prefix.length < dataStart) fail('internal: header prefix not fully read');

  let json: unknown;
  try {
    json = JSON.parse(new TextDecoder().decode(prefix.subarray(8, dataStart)));
  } catch (err) {
    fail(`header is not valid JSON (${(err as Error).message})`);
  }
  if (typeof json !== 'object' || json === null || Array.isArray(json)) fail('header is not a JSON object');

  const tensors: SafetensorsTensor[] = [];
  for (const [name, raw] of Object.entries(json as Record<string, unknown>)) {
    if (name === '__metadata__') continue;
    const entry = HeaderEntry.safeParse(raw);
    if (!entry.success) fail(`tensor ${name}: malformed header entry (${entry.error.issues[0]!.message})`);
    const { dtype, shape, data_offsets: [begin, end] } = entry.data;
    if (!isDtype(dtype)) fail(`tensor ${name}: unsupported dtype '${dtype}' (supported: ${Object.keys(DTYPE_BLOCKS).join(', ')})`);
    const block = DTYPE_BLOCKS[dtype].elements;
    if (block > 1 && (shape.length === 0 || shape[shape.length - 1]! % block !== 0))
      fail(`tensor ${name}: ${dtype} stores blocks of ${block} values along the last dimension, so it must be a multiple of ${block}, but the shape is [${shape}]`);
    const bytes = tensorByteSize(shape, dtype);
    if (bytes === null) fail(`tensor ${name}: shape [${shape}] is too large`);
    if (end < begin) fail(`tensor ${name}: data_offsets [${begin}, ${end}] end before they begin`);
    if (end - begin !== bytes)
      fail(`tensor ${name}: shape [${shape}] of ${dtype} needs ${bytes} bytes but data_offsets [${begin}, ${end}] span ${end - begin}`);
    tensors.push({ name, dtype, shape, offset: dataStart + begin, bytes });
  }

  // The tensors, in data order, must cover [dataStart, fileSize) exactly once.
  const ordered = [...tensors].sort((a, b) => a.offset - b.offset || a.bytes - b.bytes);
  let cursor = dataStart;
  let previous: string | null = null;
  for (const t of ordered) {
    if (t.offset < cursor) fail(`tensors ${previous} and ${t.name} overlap`);
    if (t.offset > cursor)
      fail(`gap of ${t.offset - cursor} bytes before tensor ${t.name}${previous ? ` (after ${previous})` : ''}`);
    cursor = t.offset + t.bytes;
    previous = t.name;
    if (cursor > fileSize)
      fail(`truncated: tensor ${t.name} ends at byte ${cursor} but the file has ${fileSize} bytes`);
  }
  if (cursor < fileSize) fail(`${fileSize - cursor} trailing bytes after the last tensor${previous ? ` ${previous}` : ''}`);
  return tensors;
}

export async function readSafetensorsHeader(path: string): Promise<SafetensorsTensor[]> {
  let handle;
  try {
    handle = await open(path, 'r');
  } catch (err) {
    throw new ModelLoadError(`${path}: cannot open (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`);
  }
  try {
    const { size } = await handle.stat();
    const lengthBytes = Buffer.alloc(8);
    await handle.read(lengthBytes, 0, Math.min(8, size), 0);
    const headerLength = size >= 8 ? lengthBytes.readBigUInt64LE(0) : 0n;
    // Read the header only if it is plausible; parseSafetensorsHeader reports why otherwise.
    const plausible = headerLength <= BigInt(MAX_HEADER_BYTES) && 8 + Number(headerLength) <= size;
    const prefix = Buffer.alloc(plausible ? 8 + Number(headerLength) : 8);
    if (plausible) await handle.read(prefix, 0, prefix.length, 0);
    else lengthBytes.copy(prefix);
    return parseSafetensorsHeader(path, prefix, size);
  } finally {
    await handle.close();
  }
}
