// Hashing bytes already on local disk: re-checking chunks a previous run claimed to have
// verified, and the whole-file sha256 computed in file order while later chunks still download.
import { createHash, type Hash } from 'node:crypto';
import type { FileHandle } from 'node:fs/promises';
import type { ManifestFile } from './manifest.ts';

const READ_PIECE = 4 << 20;

async function feedRange(handle: FileHandle, offset: number, size: number, hash: Hash, buffer: Buffer): Promise<void> {
  for (let done = 0; done < size; ) {
    const want = Math.min(buffer.length, size - done);
    const { bytesRead } = await handle.read(buffer, 0, want, offset + done);
    if (bytesRead === 0) throw new Error(`unexpected end of file at byte ${offset + done}`);
    hash.update(buffer.subarray(0, bytesRead));
    done += bytesRead;
  }
}

/** The chunks among `claimed` whose bytes on disk still hash to the manifest's sha256. */
export async function recheckChunks(handle: FileHandle, file: ManifestFile, claimed: Iterable<number>): Promise<number[]> {
  const buffer = Buffer.allocUnsafe(READ_PIECE);
  const good: number[] = [];
  for (const index of claimed) {
    const chunk = file.chunks[index]!;
    const hash = createHash('sha256');
    await feedRange(handle, chunk.offset, chunk.size, hash, buffer);
    if (hash.digest('hex') === chunk.sha256) good.push(index);
  }
  return good;
}

/**
 * The whole-file sha256, fed chunk by chunk in file order as chunks become ready. A chunk that
 * is next in file order when its download starts is fed from memory as it streams in (on a copy
 * of the running hash, adopted once the chunk is verified); others are read back from disk,
 * behind the download, so at the end little or nothing remains to hash.
 */
export class SequentialFileHasher {
  private hash = createHash('sha256');
  private readonly ready: boolean[];
  private readonly fed: (Hash | undefined)[];
  private readonly buffer = Buffer.allocUnsafe(READ_PIECE);
  private next = 0;
  private chain: Promise<void> = Promise.resolve();
  private failure: unknown = null;

  constructor(
    private readonly handle: FileHandle,
    private readonly file: ManifestFile,
  ) {
    this.ready = file.chunks.map(() => false);
    this.fed = file.chunks.map(() => undefined);
  }

  /**
   * A hash to feed chunk `index`'s bytes into as they arrive, or null if the chunk is not next
   * in file order. The running hash only advances by adopting chunk `next`, so the copy stays
   * valid until this chunk is adopted; a retried download simply asks for a fresh copy.
   */
  liveFeed(index: number): Hash | null {
    if (this.file.chunks.length === 1) return null; // the chunk's own hash is the file's: see digest()
    return index === this.next && !this.ready[index] ? this.hash.copy() : null;
  }

  /** Chunk `index` is verified on disk; `fed` is its liveFeed hash, if it was fed one. */
  markReady(index: number, fed?: Hash | null): void {
    this.ready[index] = true;
    if (this.file.chunks.length === 1) return;
    this.fed[index] = fed ?? undefined;
    this.chain = this.chain.then(() => this.pump()).catch((err: unknown) => void (this.failure ??= err));
  }

  private async pump(): Promise<void> {
    while (this.failure === null && this.next < this.ready.length && this.ready[this.next]) {
      const fed = this.fed[this.next];
      if (fed) this.hash = fed;
      else {
        const chunk = this.file.chunks[this.next]!;
        await feedRange(this.handle, chunk.offset, chunk.size, this.hash, this.buffer);
      }
      this.fed[this.next] = undefined;
      this.next++;
    }
  }

  /** The hex digest, once every chunk has been marked ready. */
  async digest(): Promise<string> {
    // A file of one chunk hashes to its chunk's sha256, which was verified as it arrived.
    if (this.file.chunks.length === 1 && this.ready[0]) return this.file.chunks[0]!.sha256;
    await this.chain;
    if (this.failure !== null) throw this.failure;
    if (this.next !== this.ready.length) throw new Error(`internal: only ${this.next} of ${this.ready.length} chunks hashed`);
    return this.hash.digest('hex');
  }
}
