// Plain safetensors reader for the float64 reference (written from DESIGN §2, sharing no
// code with weights-tools or src). Reads whole files: meant for tiny test models only.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { z } from 'zod';

export interface Tensor64 {
  shape: number[];
  data: Float64Array;
}

const headerEntrySchema = z.object({
  dtype: z.enum(['F32', 'F16', 'BF16']),
  shape: z.array(z.number().int().nonnegative()),
  data_offsets: z.tuple([z.number().int().nonnegative(), z.number().int().nonnegative()]),
});

const indexSchema = z.object({ weight_map: z.record(z.string(), z.string()) });

/** binary16 → number: sign, 5-bit exponent (bias 15), 10-bit mantissa; e = 0 is subnormal. */
function halfToNumber(bits: number): number {
  const sign = bits & 0x8000 ? -1 : 1;
  const exponent = (bits >> 10) & 0x1f;
  const mantissa = bits & 0x3ff;
  if (exponent === 0) return sign * mantissa * 2 ** -24;
  if (exponent === 31) return mantissa === 0 ? sign * Infinity : NaN;
  return sign * (1 + mantissa / 1024) * 2 ** (exponent - 15);
}

const wideFloat = new Float32Array(1);
const wideBits = new Uint32Array(wideFloat.buffer);

function decode(bytes: Buffer, dtype: z.infer<typeof headerEntrySchema>['dtype']): Float64Array {
  const width = dtype === 'F32' ? 4 : 2;
  const out = new Float64Array(bytes.length / width);
  for (let i = 0; i < out.length; i++) {
    if (dtype === 'F32') out[i] = bytes.readFloatLE(4 * i);
    else if (dtype === 'F16') out[i] = halfToNumber(bytes.readUInt16LE(2 * i));
    else {
      // bf16 is the high half of an f32: widen with << 16.
      wideBits[0] = bytes.readUInt16LE(2 * i) << 16;
      out[i] = wideFloat[0];
    }
  }
  return out;
}

/** Reads one .safetensors file into `into`. */
export function readSafetensorsFile(file: string, into: Map<string, Tensor64> = new Map()): Map<string, Tensor64> {
  const bytes = fs.readFileSync(file);
  const headerLength = Number(bytes.readBigUInt64LE(0));
  const header: Record<string, unknown> = JSON.parse(bytes.subarray(8, 8 + headerLength).toString('utf8'));
  const dataStart = 8 + headerLength; // data_offsets count from here
  for (const [name, raw] of Object.entries(header)) {
    if (name === '__metadata__') continue;
    const entry = headerEntrySchema.parse(raw);
    const [begin, end] = entry.data_offsets;
    const data = decode(bytes.subarray(dataStart + begin, dataStart + end), entry.dtype);
    const expected = entry.shape.reduce((n, d) => n * d, 1);
    if (data.length !== expected) throw new Error(`${file}: ${name} has ${data.length} values for shape [${entry.shape}]`);
    into.set(name, { shape: entry.shape, data });
  }
  return into;
}

/** All tensors of a model directory: model.safetensors, or the shards its index names. */
export function readModelTensors(dir: string): Map<string, Tensor64> {
  const indexFile = path.join(dir, 'model.safetensors.index.json');
  if (!fs.existsSync(indexFile)) return readSafetensorsFile(path.join(dir, 'model.safetensors'));
  const index = indexSchema.parse(JSON.parse(fs.readFileSync(indexFile, 'utf8')));
  const tensors = new Map<string, Tensor64>();
  for (const shard of new Set(Object.values(index.weight_map))) readSafetensorsFile(path.join(dir, shard), tensors);
  for (const name of Object.keys(index.weight_map)) {
    if (!tensors.has(name)) throw new Error(`${dir}: index lists ${name} but no shard holds it`);
  }
  return tensors;
}
