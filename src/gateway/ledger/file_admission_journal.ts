// The embedded store's admission journal: `admissions.jsonl` beside usage.jsonl, one line per
// admission. One gateway process owns a data dir, so every admission in the file when it
// opens is an orphan of a process that died: the file is moved to `admissions.orphans.jsonl`
// (reconciled, then deleted) and a fresh one started.
//
// Appends are plain write()s to the page cache, made synchronously: a killed process's writes
// are the kernel's, so they survive kill -9 and OOM, which is what the journal is for (a lost
// machine loses its in-flight requests with it; the ledger's final records stay O_DSYNC). No
// fsync, no thread hop: an admission costs one system call of a few microseconds, not a second
// durable write on every request's path.
//
// While the gateway runs, closed admissions stay in the file; once it holds `compactAfter` of
// them it is rewritten with only the open ones, so it stays the size of what is in flight.
import { closeSync, constants, openSync, renameSync, rmSync, writeFileSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { fsyncDir, writeFileAtomic } from '../keys/atomic_write.ts';
import type { AdmissionJournal } from './admission_journal.ts';
import { scanLedgerFile } from './ledger_file.ts';
import type { UsageRecord } from './usage_record.ts';

const JOURNAL = 'admissions.jsonl';
const ORPHANS = 'admissions.orphans.jsonl';
const COMPACT_AFTER = 10_000; // closed admissions before the file is rewritten

const lineOf = (r: UsageRecord) => JSON.stringify(r) + '\n';
const openForAppend = (path: string) => openSync(path, constants.O_WRONLY | constants.O_APPEND | constants.O_CREAT, 0o600);

export class FileAdmissionJournal implements AdmissionJournal {
  private readonly inFlight = new Map<string, UsageRecord>();
  private closedSinceCompaction = 0;

  private constructor(
    private readonly dataDir: string,
    private fd: number | null,
    private readonly orphaned: UsageRecord[],
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
      if (orphaned.length > 0) await writeFileAtomic(orphans, orphaned.map(lineOf).join(''));
      rmSync(journal);
      await fsyncDir(dataDir);
    }
    return new FileAdmissionJournal(dataDir, openForAppend(journal), orphaned, options.compactAfter ?? COMPACT_AFTER);
  }

  async open(provisional: UsageRecord): Promise<void> {
    if (this.fd === null) throw new Error('the admission journal is closed');
    writeSync(this.fd, lineOf(provisional));
    this.inFlight.set(provisional.request_id, provisional);
  }

  close(requestId: string): void {
    if (!this.inFlight.delete(requestId)) return;
    if (++this.closedSinceCompaction >= this.compactAfter) this.compact();
  }

  async orphans(): Promise<UsageRecord[]> {
    return [...this.orphaned];
  }

  async forget(requestIds: readonly string[]): Promise<void> {
    const gone = new Set(requestIds);
    const left = this.orphaned.filter((r) => !gone.has(r.request_id));
    this.orphaned.splice(0, this.orphaned.length, ...left);
    const path = join(this.dataDir, ORPHANS);
    if (left.length === 0) rmSync(path, { force: true });
    else await writeFileAtomic(path, left.map(lineOf).join(''));
  }

  async closeJournal(): Promise<void> {
    if (this.fd !== null) closeSync(this.fd);
    this.fd = null;
  }

  // Synchronous, so no append can land between the rewrite and the swap: a few hundred
  // lines (what is in flight) once every compactAfter requests. Renamed into place: a crash
  // leaves the old file or the new one, never half of one.
  private compact(): void {
    this.closedSinceCompaction = 0;
    const path = join(this.dataDir, JOURNAL);
    const tmp = `${path}.compact`;
    writeFileSync(tmp, [...this.inFlight.values()].map(lineOf).join(''), { mode: 0o600 });
    renameSync(tmp, path);
    if (this.fd !== null) closeSync(this.fd);
    this.fd = openForAppend(path);
  }
}
