// The admission journal in PostgreSQL, shared by every replica: a row per request in flight,
// owned by the replica that admitted it. Each replica heartbeats in sirocco_gateways; the
// admissions of a replica silent for `staleMs` (killed, partitioned, its machine gone) are
// orphans that any live replica reconciles. A final record deletes its admission (in batches,
// after the ledger insert: a crash between the two leaves an orphan the ledger reports as a
// duplicate, so it is dropped, not billed twice).
//
// Its own small pool, with synchronous_commit off: an admission must outlive the gateway that
// wrote it (kill -9, OOM), which a commit acknowledged by the server does, flushed or not; only
// a crash of PostgreSQL itself in the next moment could lose one. So admitting a request costs
// no WAL flush on its path, and admissions arriving together go in one INSERT (group commit).
import pg from 'pg';
import type { AdmissionJournal } from '../ledger/admission_journal.ts';
import { UsageRecordSchema, type UsageRecord } from '../ledger/usage_record.ts';

const HEARTBEAT_MS = 5_000;
const MAX_BATCH = 1000; // 3 parameters a row
const MAX_ORPHANS = 1000; // per reconciliation pass

type Pending = { record: UsageRecord; resolve: () => void; reject: (e: Error) => void };

export class PostgresAdmissionJournal implements AdmissionJournal {
  private readonly pool: pg.Pool;
  private readonly queue: Pending[] = [];
  private writing = false;
  private readonly closing = new Set<string>();
  private flushing: Promise<void> | null = null;
  private readonly heartbeat: NodeJS.Timeout;
  private beat: Promise<unknown> = Promise.resolve();

  constructor(
    connectionString: string,
    private readonly owner: string,
    private readonly staleMs: number,
  ) {
    if (staleMs < 1000) throw new RangeError(`staleMs must be at least 1000 ms (got ${staleMs})`);
    const pool = new pg.Pool({ connectionString, max: 4, connectionTimeoutMillis: 10_000, options: '-c synchronous_commit=off' });
    pool.on('error', () => {}); // an idle client's broken connection: the pool replaces it
    this.pool = pool;
    const beat = () => (this.beat = pool.query('INSERT INTO sirocco_gateways (id, seen_at) VALUES ($1, now()) ON CONFLICT (id) DO UPDATE SET seen_at = now()', [owner]).catch(() => undefined));
    void beat();
    this.heartbeat = setInterval(beat, Math.min(HEARTBEAT_MS, staleMs / 3));
    this.heartbeat.unref();
  }

  open(provisional: UsageRecord): Promise<void> {
    return new Promise((resolve, reject) => {
      this.queue.push({ record: provisional, resolve, reject });
      if (!this.writing) void this.drain();
    });
  }

  private async drain(): Promise<void> {
    this.writing = true;
    while (this.queue.length > 0) {
      const batch = this.queue.splice(0, MAX_BATCH);
      try {
        await this.pool.query(
          `INSERT INTO sirocco_admissions (request_id, owner, record) VALUES ${batch.map((_, i) => `($${3 * i + 1}, $${3 * i + 2}, $${3 * i + 3})`).join(', ')} ON CONFLICT (request_id) DO NOTHING`,
          batch.flatMap((p) => [p.record.request_id, this.owner, JSON.stringify(p.record)]),
        );
        for (const p of batch) p.resolve();
      } catch (err) {
        for (const p of batch) p.reject(err as Error);
      }
    }
    this.writing = false;
  }

  close(requestId: string): void {
    this.closing.add(requestId);
    this.flushing ??= (async () => {
      await new Promise((r) => setImmediate(r)); // gather the closes of this turn
      while (this.closing.size > 0) {
        const ids = [...this.closing];
        this.closing.clear();
        await this.pool.query('DELETE FROM sirocco_admissions WHERE request_id = ANY($1)', [ids]).catch(() => undefined); // left rows are reconciled as duplicates
      }
      this.flushing = null;
    })();
  }

  async orphans(): Promise<UsageRecord[]> {
    const { rows } = await this.pool.query<{ record: unknown }>(
      `SELECT record FROM sirocco_admissions a
        WHERE a.opened_at < now() - make_interval(secs => $1)
          AND NOT EXISTS (SELECT 1 FROM sirocco_gateways g WHERE g.id = a.owner AND g.seen_at > now() - make_interval(secs => $1))
        ORDER BY a.opened_at LIMIT ${MAX_ORPHANS}`,
      [this.staleMs / 1000],
    );
    return rows.map((r) => UsageRecordSchema.parse(r.record));
  }

  async forget(requestIds: readonly string[]): Promise<void> {
    if (requestIds.length > 0) await this.pool.query('DELETE FROM sirocco_admissions WHERE request_id = ANY($1)', [requestIds]);
  }

  /** Stops the heartbeat and drops this replica's row: what it left open is orphaned at once. */
  async closeJournal(): Promise<void> {
    clearInterval(this.heartbeat);
    await this.flushing;
    await this.beat;
    await this.pool.query('DELETE FROM sirocco_gateways WHERE id = $1', [this.owner]).catch(() => undefined);
    await this.pool.end();
  }
}
