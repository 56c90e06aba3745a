// The embedded store's admission journal: `admissions.jsonl` beside usage.jsonl, written like
// it (O_DSYNC, group commit, one line per admission). One gateway process owns a data dir, so
// every admission in the file when it opens is an orphan of a process that died: the file is
// renamed to `admissions.orphans.jsonl` (reconciled, then deleted) and a fresh one started.
// While the gateway runs, closed admissions stay in the file; once it holds `compactAfter` of
// them it is rewritten with only the open ones, so it stays the size of what is in flight.
import { rename, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { writeFileAtomic, fsyncDir } from '../keys/atomic_write.ts';
import type { AdmissionJournal } from './admission_journal.ts';
import { FileUsageLedger } from './file_usage_ledger.ts';
import { scanLedgerFile } from './ledger_file.ts';
import type { UsageRecord } from './usage_record.ts';

const JOURNAL = 'admissions.jsonl';
const ORPHANS = 'admissions.orphans.jsonl';
const COMPACT_AFTER = 10_000; // closed admissions before the file is rewritten

export class FileAdmissionJournal implements AdmissionJournal {
  private readonly inFlight = new Map<string, UsageRecord>();
  private closedSinceCompaction = 0;
  // Compaction swaps the file: it waits for the appends in progress (`appending`) and makes
  // new ones wait for it (`compacting`); both flags change synchronously, so none slips between.
  private compacting: Promise<void> | null = null;
  private appending = 0;
  private appendsDone: (() => void) | null = null;

  private constructor(
    private readonly dataDir: string,
    private file: FileUsageLedger,
    private readonly orphaned: UsageRecord[],
    private readonly warn: (m: string) => void,
    private readonly compactAfter: number,
  ) {}

  static async open(dataDir: string, options: { onWarning?: (m: string) => void; compactAfter?: number } = {}): Promise<FileAdmissionJournal> {
    const warn = options.onWarning ?? ((m: string) => process.stderr.write(`sirocco admissions: ${m}\n`));
    const journal = join(dataDir, JOURNAL);
    const orphans = join(dataDir, ORPHANS);
    const orphaned: UsageRecord[] = [];
    // An orphans file left by a start that died mid-reconcile comes first; then the journal of
    // the process that died last is added to it (records are deduplicated by the ledger).
    await scanLedgerFile(orphans, (r) => orphaned.push(r), warn);
    if ((await scanLedgerFile(journal, (r) => orphaned.push(r), warn)) !== null) {
      if (orphaned.length > 0) await writeFileAtomic(orphans, orphaned.map((r) => JSON.stringify(r) + '\n').join(''));
      await rm(journal);
      await fsyncDir(dataDir);
    }
    const file = await FileUsageLedger.open(dataDir, { file: JOURNAL, onWarning: warn });
    return new FileAdmissionJournal(dataDir, file, orphaned, warn, options.compactAfter ?? COMPACT_AFTER);
  }

  async open(provisional: UsageRecord): Promise<void> {
    while (this.compacting) await this.compacting;
    this.appending++;
    try {
      this.inFlight.set(provisional.request_id, provisional);
      await this.file.append(provisional);
    } catch (err) {
      this.inFlight.delete(provisional.request_id); // not journaled: the request is refused
      throw err;
    } finally {
      if (--this.appending === 0) this.appendsDone?.();
    }
  }

  close(requestId: string): void {
    if (!this.inFlight.delete(requestId)) return;
    if (++this.closedSinceCompaction < this.compactAfter || this.compacting) return;
    this.compacting = (async () => {
      if (this.appending > 0) await new Promise<void>((resolve) => (this.appendsDone = resolve));
      this.appendsDone = null;
      await this.compact();
      this.compacting = null;
    })();
  }

  async orphans(): Promise<UsageRecord[]> {
    return [...this.orphaned];
  }

  async forget(requestIds: readonly string[]): Promise<void> {
    const gone = new Set(requestIds);
    const left = this.orphaned.filter((r) => !gone.has(r.request_id));
    this.orphaned.splice(0, this.orphaned.length, ...left);
    const path = join(this.dataDir, ORPHANS);
    if (left.length === 0) await rm(path, { force: true });
    else await writeFileAtomic(path, left.map((r) => JSON.stringify(r) + '\n').join(''));
  }

  async closeJournal(): Promise<void> {
    await this.compacting;
    await this.file.close();
  }

  // Replaces the file by one holding the open admissions only (no append is running).
  private async compact(): Promise<void> {
    this.closedSinceCompaction = 0;
    try {
      await this.file.close();
      const path = join(this.dataDir, JOURNAL);
      const tmp = `${path}.compact`;
      await writeFileAtomic(tmp, [...this.inFlight.values()].map((r) => JSON.stringify(r) + '\n').join(''));
      await rename(tmp, path);
      await fsyncDir(this.dataDir);
    } catch (err) {
      this.warn(`could not compact the admission journal: ${(err as Error).message}`);
    } finally {
      this.file = await FileUsageLedger.open(this.dataDir, { file: JOURNAL, onWarning: this.warn });
    }
  }
}
