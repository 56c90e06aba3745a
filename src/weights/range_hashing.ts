// Block hashes of byte ranges of a stream, computed in the same single pass over a file that
// hashes its chunks (manifest_build.ts, and verify): a safetensors file is read once whatever
// the number of tensors. Ranges are sorted and disjoint; bytes between them are skipped.
import { createHash, type Hash } from 'node:crypto';

/** [start, end) in the stream, cut into blocks of `blockBytes` from `start` (the last one short). */
export type HashedRange = { start: number; end: number; blockBytes: number };

export class RangeBlockHasher {
  private readonly hashes: string[][];
  private index = 0; // the range the stream is in, or before
  private position = 0; // bytes of the stream seen so far
  private block: Hash | null = null;
  private inBlock = 0;

  constructor(private readonly ranges: readonly HashedRange[]) {
    ranges.forEach((r, i) => {
      if (r.end < r.start || r.blockBytes < 1 || (i > 0 && r.start < ranges[i - 1]!.end)) throw new Error(`internal: range ${i} is empty, unsorted or overlapping`);
    });
    this.hashes = ranges.map(() => []);
  }

  update(piece: Uint8Array): void {
    let at = 0;
    while (at < piece.length && this.index < this.ranges.length) {
      const range = this.ranges[this.index]!;
      if (this.position >= range.end) {
        this.closeBlock();
        this.index++;
        continue;
      }
      if (this.position < range.start) {
        // Skip to the range's start (or to the piece's end).
        const skip = Math.min(piece.length - at, range.start - this.position);
        at += skip;
        this.position += skip;
        continue;
      }
      const take = Math.min(piece.length - at, range.end - this.position, range.blockBytes - this.inBlock);
      this.block ??= createHash('sha256');
      this.block.update(piece.subarray(at, at + take));
      at += take;
      this.position += take;
      this.inBlock += take;
      if (this.inBlock === range.blockBytes || this.position === range.end) this.closeBlock();
    }
    this.position += piece.length - at; // past the last range
  }

  private closeBlock(): void {
    if (this.block === null) return;
    this.hashes[this.index]!.push(this.block.digest('hex'));
    this.block = null;
    this.inBlock = 0;
  }

  /** Each range's block hashes; throws if the stream ended before the last range did. */
  digest(): string[][] {
    const last = this.ranges.at(-1);
    if (last && this.position < last.end) throw new Error(`stream ended at byte ${this.position}, before the range ending at ${last.end}`);
    this.closeBlock();
    return this.hashes;
  }
}

/** `source`, unchanged, with every piece also fed to `sink` (one read, two hashers). */
export async function* teeStream(source: AsyncIterable<Uint8Array>, sink: (piece: Uint8Array) => void): AsyncGenerator<Uint8Array> {
  for await (const piece of source) {
    sink(piece);
    yield piece;
  }
}

/** sha256 of each `blockBytes` block of `bytes` (the last one short). */
export function hashBlocks(bytes: Uint8Array, blockBytes: number): string[] {
  const out: string[] = [];
  for (let at = 0; at < bytes.length; at += blockBytes) out.push(createHash('sha256').update(bytes.subarray(at, Math.min(bytes.length, at + blockBytes))).digest('hex'));
  return out;
}

/**
 * The ranges of a safetensors file: its header (one hash) then each tensor's blocks, in file
 * order. `hashesOf` maps the hasher's digest back to the header's hash and each tensor's
 * blocks in the order `tensors` was given.
 */
export function safetensorsRanges(headerBytes: number, tensors: readonly { offset: number; bytes: number }[], blockBytes: number) {
  const order = tensors.map((_, i) => i).sort((a, b) => tensors[a]!.offset - tensors[b]!.offset || tensors[a]!.bytes - tensors[b]!.bytes);
  const ranges: HashedRange[] = [{ start: 0, end: headerBytes, blockBytes: Number.MAX_SAFE_INTEGER }, ...order.map((i) => ({ start: tensors[i]!.offset, end: tensors[i]!.offset + tensors[i]!.bytes, blockBytes }))];
  const hashesOf = (digest: string[][]): { header: string; tensors: string[][] } => {
    const blocks: string[][] = tensors.map(() => []);
    order.forEach((i, k) => (blocks[i] = digest[k + 1]!));
    return { header: digest[0]![0]!, tensors: blocks };
  };
  return { ranges, hashesOf };
}
