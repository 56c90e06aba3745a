// UsageLedger appending to `usage.jsonl` in the data dir, one JSON line per request.
//
// Durability: an append resolves only after its line is on disk. The file is opened O_DSYNC,
// so one write() returns only once its bytes (and the size that makes them readable) are
// durable: one system call on the thread pool per batch, where write + fsync took two round
// trips. Appends are committed strictly in call order by one writer loop; appends that
// arrive while a write is running are written together by the next one (group commit), so
// the ledger costs one synchronous write per batch, not per request, under load — each
// promise still resolves only once its own line is durable.
//
// One writing process per file: the set of recorded request ids lives in this process
// (loaded from the file on open; it grows with the file, so rotate large ledgers).
import { constants } from 'node:fs';
import { mkdir, open, type FileHandle } from 'node:fs/promises';
import { join } from 'node:path';
import { z } from 'zod';
import { fsyncDir } from '../keys/atomic_write.ts';
import { scanLedgerFile, USAGE_FILE } from './ledger_file.ts';
import type { UsageFilter, UsageLedger } from './usage_ledger.ts';
import { checkFilter, matchesFilter } from './usage_ledger.ts';
import { UsageRecordSchema, type UsageRecord } from './usage_record.ts';

const OptionsSchema = z.strictObject({
  onWarning: z.custom<(message: string) => void>((v) => typeof v === 'function', 'onWarning must be a function').optional(),
  maxBatch: z.number().int().positive().optional(),
});
export type FileUsageLedgerOptions = z.infer<typeof OptionsSchema>;

type Pending = { record: UsageRecord; resolve: (v: 'written' | 'duplicate') => void; reject: (e: Error) => void };

export class FileUsageLedger implements UsageLedger {
  private readonly queue: Pending[] = [];
  private draining = false;
  private drained: Promise<void> = Promise.resolve();
  private broken: Error | null = null;
  private closed = false;

  private constructor(
    readonly path: string,
    private readonly fh: FileHandle,
    private size: number, // committed bytes: everything before is whole, fsynced lines
    private readonly ids: Set<string>,
    private readonly warn: (message: string) => void,
    private readonly maxBatch: number,
  ) {}

  /**
   * Opens `dataDir/usage.jsonl` for appending (creating it, mode 0600). A torn last line left by
   * a crash is cut off — it was never acknowledged — and reported through `onWarning`.
   */
  static async open(dataDir: string, options: FileUsageLedgerOptions = {}): Promise<FileUsageLedger> {
    const opts = OptionsSchema.parse(options);
    const warn = opts.onWarning ?? ((m: string) => process.stderr.write(`sirocco ledger: ${m}\n`));
    await mkdir(dataDir, { recursive: true, mode: 0o700 });
    const path = join(dataDir, USAGE_FILE);
    const ids = new Set<string>();
    const scan = await scanLedgerFile(path, (r) => ids.add(r.request_id), warn);
    const fh = await open(path, constants.O_WRONLY | constants.O_APPEND | constants.O_CREAT | constants.O_DSYNC, 0o600);
    try {
      if (scan !== null && scan.tornBytes > 0) {
        await fh.truncate(scan.committedBytes);
        await fh.sync();
        warn(`${path}: removed the incomplete last line (${scan.tornBytes} bytes) left by an interrupted write`);
      }
      if (scan === null) await fsyncDir(dataDir); // the new file's directory entry
    } catch (err) {
      await fh.close();
      throw err;
    }
    return new FileUsageLedger(path, fh, scan?.committedBytes ?? 0, ids, warn, opts.maxBatch ?? 1024);
  }

  append(r: UsageRecord): Promise<'written' | 'duplicate'> {
    let record: UsageRecord;
    try {
      if (this.closed) throw new Error('usage ledger is closed');
      record = UsageRecordSchema.parse(r);
    } catch (err) {
      return Promise.reject(err);
    }
    return new Promise((resolve, reject) => {
      this.queue.push({ record, resolve, reject });
      if (!this.draining) {
        this.draining = true;
        this.drained = this.drain();
      }
    });
  }

  async read(filter: UsageFilter = {}): Promise<UsageRecord[]> {
    checkFilter(filter);
    const out: UsageRecord[] = [];
    // Up to the committed size only: never a line a concurrent append is still writing.
    await scanLedgerFile(this.path, (r) => matchesFilter(r, filter) && out.push(r), this.warn, this.size);
    return out;
  }

  /** Waits for queued appends, then closes the file. Later appends reject. */
  async close(): Promise<void> {
    this.closed = true;
    await this.drained;
    await this.fh.close();
  }

  // The flag is cleared in the same turn as the loop's last emptiness check, so an append
  // made from a resolved caller's continuation always finds either a running loop or none.
  private async drain(): Promise<void> {
    try {
      while (this.queue.length > 0) await this.commit(this.queue.splice(0, this.maxBatch));
    } finally {
      this.draining = false;
    }
  }

  private async commit(batch: Pending[]): Promise<void> {
    if (this.broken) {
      for (const p of batch) p.reject(this.broken);
      return;
    }
    const outcome: Array<'written' | 'duplicate'> = [];
    const fresh = new Set<string>();
    const lines: string[] = [];
    for (const { record } of batch) {
      if (this.ids.has(record.request_id) || fresh.has(record.request_id)) {
        outcome.push('duplicate');
      } else {
        fresh.add(record.request_id);
        lines.push(JSON.stringify(record) + '\n');
        outcome.push('written');
      }
    }
    if (lines.length > 0) {
      const bytes = Buffer.from(lines.join(''), 'utf8');
      try {
        for (let off = 0; off < bytes.length; ) off += (await this.fh.write(bytes, off)).bytesWritten; // durable: O_DSYNC
      } catch (err) {
        await this.rollBack();
        for (const p of batch) p.reject(err as Error);
        return;
      }
      this.size += bytes.length;
      for (const id of fresh) this.ids.add(id);
    }
    batch.forEach((p, i) => p.resolve(outcome[i]!));
  }

  // A failed write may have left part of a line: cut the file back to the last committed line
  // so the next append does not glue onto it. If even that fails, stop accepting appends.
  private async rollBack(): Promise<void> {
    try {
      await this.fh.truncate(this.size);
      await this.fh.sync();
    } catch (err) {
      this.broken = new Error(`usage ledger ${this.path} is unusable after a failed write: ${(err as Error).message}`);
      this.warn(this.broken.message);
    }
  }
}
