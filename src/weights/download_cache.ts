// Where downloaded models live on local disk, and the small files that make a download
// restartable: `<file>.partial` is written in place at chunk offsets, `.sirocco/<file>.chunks.json`
// lists the chunks already verified (written only after their bytes are fsynced), and
// `.sirocco/<file>.verified` marks a finished file (size and sha256), so a restart neither
// downloads nor re-hashes it.
import { createHash } from 'node:crypto';
import { mkdir, open, readFile, rename, rm } from 'node:fs/promises';
import { homedir } from 'node:os';
import { dirname, join } from 'node:path';
import { z } from 'zod';
import type { ManifestFile } from './manifest.ts';
import type { S3Location } from './s3_location.ts';

export function cacheRoot(explicit?: string, env: NodeJS.ProcessEnv = process.env): string {
  return explicit ?? (env.SIROCCO_CACHE_DIR || join(homedir(), '.cache', 'sirocco', 'models'));
}

/**
 * A model's directory in the cache: readable (bucket and last prefix part) plus a key derived
 * from bucket, prefix and the manifest's sha256, so a re-pushed model lands in a new directory.
 */
export function cachedModelDir(root: string, location: S3Location, manifestSha256: string): string {
  const key = createHash('sha256').update(`${location.bucket}\n${location.prefix}\n${manifestSha256}`).digest('hex').slice(0, 16);
  const name = location.prefix.split('/').pop() || 'model';
  const safe = (s: string) => s.replace(/[^A-Za-z0-9._-]/g, '_');
  return join(root, `${safe(location.bucket)}_${safe(name)}-${key}`);
}

const STATE_DIR = '.sirocco';
export const partialPath = (dir: string, path: string): string => join(dir, `${path}.partial`);
const ledgerPath = (dir: string, path: string): string => join(dir, STATE_DIR, `${path}.chunks.json`);
const markerPath = (dir: string, path: string): string => join(dir, STATE_DIR, `${path}.verified`);

/** Writes `text` to `path` atomically (temp file, rename); durably too (fsync first) unless told not to. */
// Temp names unique per call: two writers of one path in this process (shards caching the same
// replicated slice) must not share a temp file; the last rename wins with identical bytes.
let tempCount = 0;
export async function writeFileAtomic(path: string, text: string | Uint8Array, durable = true): Promise<void> {
  await mkdir(dirname(path), { recursive: true });
  const temp = `${path}.tmp-${process.pid}-${tempCount++}`;
  const handle = await open(temp, 'w');
  try {
    await handle.writeFile(text);
    if (durable) await handle.sync();
  } finally {
    await handle.close();
  }
  await rename(temp, path);
}

/** fsync a directory so a rename inside it survives a crash. */
export async function syncDir(dir: string): Promise<void> {
  const handle = await open(dir, 'r');
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}

async function readJson<T>(path: string, schema: z.ZodType<T>): Promise<T | null> {
  try {
    const parsed = schema.safeParse(JSON.parse(await readFile(path, 'utf8')));
    return parsed.success ? parsed.data : null;
  } catch {
    return null; // missing or torn: treat as absent, the data is re-verified or re-fetched
  }
}

const Marker = z.object({ sha256: z.string(), size: z.number() });

export async function isMarkedVerified(dir: string, file: ManifestFile): Promise<boolean> {
  const marker = await readJson(markerPath(dir, file.path), Marker);
  return marker !== null && marker.sha256 === file.sha256 && marker.size === file.size;
}

// Not fsynced: a marker lost in a crash only costs re-hashing the (fsynced) file on the next start.
export async function markVerified(dir: string, file: ManifestFile): Promise<void> {
  await writeFileAtomic(markerPath(dir, file.path), JSON.stringify({ sha256: file.sha256, size: file.size }) + '\n', false);
  await rm(ledgerPath(dir, file.path), { force: true });
}

const Ledger = z.object({ sha256: z.string(), chunk_size: z.number(), verified: z.array(z.number().int().nonnegative()) });

/** Chunks of `file` a previous run verified and fsynced into the `.partial` file. */
export async function readLedger(dir: string, file: ManifestFile): Promise<Set<number>> {
  const ledger = await readJson(ledgerPath(dir, file.path), Ledger);
  if (ledger === null || ledger.sha256 !== file.sha256 || ledger.chunk_size !== file.chunk_size) return new Set();
  return new Set(ledger.verified.filter((i) => i < file.chunks.length));
}

/**
 * Records verified chunks, at most once per LEDGER_INTERVAL_MS while a file downloads (each
 * record costs two fsyncs): a crash loses at most that much work. Each write first fsyncs the
 * partial file (via `syncData`), then the ledger, so the ledger never claims bytes a crash
 * could lose. A failed write is reported by close().
 */
export const LEDGER_INTERVAL_MS = 1000;

export class ChunkLedger {
  private readonly verified: Set<number>;
  private writing: Promise<void> = Promise.resolve();
  private timer: NodeJS.Timeout | null = null;
  private dirty = false;
  private failure: unknown = null;

  constructor(
    private readonly dir: string,
    private readonly file: ManifestFile,
    initial: Iterable<number>,
    private readonly syncData: () => Promise<void>,
  ) {
    this.verified = new Set(initial);
  }

  has(index: number): boolean {
    return this.verified.has(index);
  }

  add(index: number): void {
    this.verified.add(index);
    this.dirty = true;
    this.timer ??= setTimeout(() => {
      this.timer = null;
      this.schedule();
    }, LEDGER_INTERVAL_MS);
  }

  private schedule(): void {
    this.writing = this.writing.then(() => this.write()).catch((err: unknown) => void (this.failure ??= err));
  }

  private async write(): Promise<void> {
    if (!this.dirty) return;
    this.dirty = false;
    await this.syncData();
    const body = { sha256: this.file.sha256, chunk_size: this.file.chunk_size, verified: [...this.verified].sort((a, b) => a - b) };
    await writeFileAtomic(ledgerPath(this.dir, this.file.path), JSON.stringify(body) + '\n');
  }

  /**
   * Stops recording. `keep`: the download stopped early, so record every verified chunk now
   * for the next run; otherwise the file is complete and its marker replaces the ledger.
   */
  async close(keep: boolean): Promise<void> {
    if (this.timer !== null) clearTimeout(this.timer);
    this.timer = null;
    if (keep) this.schedule();
    await this.writing;
    if (keep && this.failure !== null) throw this.failure;
  }
}
