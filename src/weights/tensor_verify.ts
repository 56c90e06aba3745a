// Verifying a whole stored or local file against every hash a manifest has for it: chunks and
// file sha256 (chunk_hashing.ts), and for a version-2 weights file also the header and every
// tensor block, in the same single read. A column-chunked object is checked the same way. A
// block that disagrees while the chunks agree means the manifest itself is inconsistent.
import { createHash } from 'node:crypto';
import { checkAgainstManifest, hashChunkedStream } from './chunk_hashing.ts';
import { ChecksumError } from './errors.ts';
import type { ColChunkObject, Manifest, ManifestFile } from './manifest.ts';
import { RangeBlockHasher, safetensorsRanges, teeStream } from './range_hashing.ts';

function firstBadBlock(expected: string[], actual: string[]): number {
  if (expected.length !== actual.length) return Math.min(expected.length, actual.length);
  return expected.findIndex((h, i) => actual[i] !== h);
}

export async function verifyFileStream(manifest: Manifest, file: ManifestFile, source: AsyncIterable<Uint8Array>, where: string, onBytes?: (bytes: number) => void): Promise<void> {
  const B = manifest.model.block_bytes;
  const tensors = file.tensors ?? [];
  const layout = B !== undefined && file.header && tensors.every((t) => t.blocks) ? safetensorsRanges(file.header.bytes, tensors, B) : null;
  const ranges = layout ? new RangeBlockHasher(layout.ranges) : null;
  const hashed = await hashChunkedStream(ranges ? teeStream(source, (p) => ranges.update(p)) : source, file.chunk_size, onBytes);
  checkAgainstManifest(file, hashed, where); // names the bad chunk, as for a version-1 manifest
  if (!layout || !ranges) return;
  const actual = layout.hashesOf(ranges.digest());
  if (actual.header !== file.header!.sha256)
    throw new ChecksumError(`${where}: ${file.path}: the header hashes to ${actual.header}, the manifest says ${file.header!.sha256}: the manifest is inconsistent; push the model again`);
  tensors.forEach((t, i) => {
    const bad = firstBadBlock(t.blocks!, actual.tensors[i]!);
    if (bad !== -1)
      throw new ChecksumError(`${where}: ${file.path}: checksum mismatch in tensor ${t.name} block ${bad} while every chunk matches: the manifest is inconsistent; push the model again`);
  });
}

export async function verifyColChunkStream(manifest: Manifest, entry: ColChunkObject, source: AsyncIterable<Uint8Array>, where: string, onBytes?: (bytes: number) => void): Promise<void> {
  const B = manifest.model.block_bytes!; // colchunks exist only in version 2, which has it
  const whole = createHash('sha256');
  const ranges = new RangeBlockHasher(entry.tensors.map((t) => ({ start: t.offset, end: t.offset + t.bytes, blockBytes: B })));
  let size = 0;
  for await (const piece of source) {
    whole.update(piece);
    ranges.update(piece);
    size += piece.length;
    onBytes?.(piece.length);
  }
  if (size !== entry.size) throw new ChecksumError(`${where}: ${entry.object} has ${size} bytes, the manifest says ${entry.size}; push the model again`);
  const blocks = ranges.digest();
  entry.tensors.forEach((t, i) => {
    const bad = firstBadBlock(t.blocks, blocks[i]!);
    if (bad !== -1) throw new ChecksumError(`${where}: checksum mismatch in ${entry.object}: tensor ${t.name} (column-chunked copy) block ${bad}; push the model again`);
  });
  const sha256 = whole.digest('hex');
  if (sha256 !== entry.sha256) throw new ChecksumError(`${where}: ${entry.object} hashes to ${sha256}, the manifest says ${entry.sha256}; push the model again`);
}
