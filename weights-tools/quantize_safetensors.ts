// Writing safetensors whose tensor data is produced piece by piece: the header (sizes known
// up front) first, then each tensor's bytes streamed through `produce`, so a multi-GB model
// never sits in memory. The file is written under a temporary name and renamed when done, so
// an interrupted run leaves no file that looks complete.
import * as fs from 'node:fs';
import { tensorByteSize, type Dtype } from '../src/engine/safetensors.ts';

export type TensorEntry = { name: string; dtype: Dtype; shape: number[] };

export function entryBytes(e: TensorEntry): number {
  const bytes = tensorByteSize(e.shape, e.dtype);
  if (bytes === null) throw new Error(`tensor ${e.name}: shape [${e.shape}] is too large`);
  return bytes;
}

/** Length field + JSON header padded with spaces so the data starts 8-byte aligned. */
export function safetensorsPrefix(entries: readonly TensorEntry[], metadata: Record<string, string>): Buffer {
  const header: Record<string, unknown> = { __metadata__: metadata };
  let offset = 0;
  for (const e of entries) {
    const end = offset + entryBytes(e);
    header[e.name] = { dtype: e.dtype, shape: e.shape, data_offsets: [offset, end] };
    offset = end;
  }
  const json = Buffer.from(JSON.stringify(header), 'utf8');
  const padded = Math.ceil((8 + json.length) / 8) * 8 - 8;
  const prefix = Buffer.alloc(8 + padded, 0x20);
  prefix.writeBigUInt64LE(BigInt(padded), 0);
  json.copy(prefix, 8);
  return prefix;
}

/** Receives a tensor's bytes in order; the producer must write exactly entryBytes(e). */
export type ByteSink = (bytes: Uint8Array) => void;

/**
 * Writes `path` with `entries` in this order; `produce` streams each tensor's bytes into the
 * sink, and `onBytes` hears of them (tensor data only: progress). Returns the file size.
 * Yields to the event loop between tensors.
 */
export async function writeSafetensorsStreaming(
  path: string,
  entries: readonly TensorEntry[],
  metadata: Record<string, string>,
  produce: (entry: TensorEntry, sink: ByteSink) => void,
  onBytes: (bytes: number) => void = () => {},
): Promise<number> {
  const partial = `${path}.partial`;
  const fd = fs.openSync(partial, 'w');
  let written = 0;
  const write = (bytes: Uint8Array) => {
    for (let done = 0; done < bytes.length; ) done += fs.writeSync(fd, bytes, done, bytes.length - done);
    written += bytes.length;
  };
  const sink: ByteSink = (bytes) => {
    write(bytes);
    onBytes(bytes.length);
  };
  try {
    write(safetensorsPrefix(entries, metadata));
    for (const e of entries) {
      const before = written;
      produce(e, sink);
      if (written - before !== entryBytes(e))
        throw new Error(`internal: tensor ${e.name} produced ${written - before} bytes, expected ${entryBytes(e)}`);
      await new Promise((resolve) => setImmediate(resolve));
    }
  } catch (err) {
    fs.closeSync(fd);
    fs.rmSync(partial, { force: true });
    throw err;
  }
  fs.closeSync(fd);
  fs.renameSync(partial, path);
  return written;
}
