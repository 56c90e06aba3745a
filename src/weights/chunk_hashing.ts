// One pass over a file's bytes (from disk or from S3) giving its sha256 and every fixed-size
// chunk's sha256, and the comparison with a manifest entry that names the first bad chunk.
import { createHash } from 'node:crypto';
import { ChecksumError } from './errors.ts';
import type { ManifestChunk, ManifestFile } from './manifest.ts';

export type HashedFile = { size: number; sha256: string; chunks: ManifestChunk[] };

export async function hashChunkedStream(source: AsyncIterable<Uint8Array>, chunkSize: number, onBytes?: (bytes: number) => void): Promise<HashedFile> {
  const whole = createHash('sha256');
  const chunks: ManifestChunk[] = [];
  let chunk = createHash('sha256');
  let inChunk = 0;
  let offset = 0;
  const closeChunk = () => {
    chunks.push({ offset: offset - inChunk, size: inChunk, sha256: chunk.digest('hex') });
    chunk = createHash('sha256');
    inChunk = 0;
  };
  for await (const piece of source) {
    whole.update(piece);
    for (let at = 0; at < piece.length; ) {
      const take = Math.min(piece.length - at, chunkSize - inChunk);
      chunk.update(piece.subarray(at, at + take));
      at += take;
      inChunk += take;
      offset += take;
      if (inChunk === chunkSize) closeChunk();
    }
    onBytes?.(piece.length);
  }
  if (inChunk > 0) closeChunk();
  return { size: offset, sha256: whole.digest('hex'), chunks };
}

/** Throws a ChecksumError naming `where` (a URI or path), the file and the first bad chunk. */
export function checkAgainstManifest(file: ManifestFile, hashed: HashedFile, where: string): void {
  if (hashed.size !== file.size)
    throw new ChecksumError(`${where}: ${file.path} has ${hashed.size} bytes, the manifest says ${file.size}`);
  const bad = file.chunks.findIndex((c, i) => hashed.chunks[i]?.sha256 !== c.sha256);
  if (bad !== -1) {
    const c = file.chunks[bad]!;
    throw new ChecksumError(`${where}: checksum mismatch in ${file.path} chunk ${bad} (bytes ${c.offset}-${c.offset + c.size - 1}): sha256 ${hashed.chunks[bad]!.sha256}, manifest says ${c.sha256}`);
  }
  if (hashed.sha256 !== file.sha256)
    throw new ChecksumError(`${where}: ${file.path} hashes to ${hashed.sha256}, the manifest says ${file.sha256}`);
}
