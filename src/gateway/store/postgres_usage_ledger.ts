// The usage ledger in PostgreSQL: one row per request, the request id as primary key, so a
// retried append (after a timeout, or by another replica) is reported as a duplicate and never
// billed twice. A row is committed before append() resolves; read() returns append order.
//
// Group commit: appends that arrive while an INSERT is running wait and go together in the
// next one (one statement, one commit, one WAL flush for up to MAX_BATCH records), so under
// load the ledger costs a flush per batch, not per request, and every promise still resolves
// only once its own row is durable.
import type pg from 'pg';
import { checkFilter, type UsageFilter, type UsageLedger } from '../ledger/usage_ledger.ts';
import { USAGE_COLUMNS, UsageRecordSchema, type UsageRecord } from '../ledger/usage_record.ts';

const COLUMNS = USAGE_COLUMNS;
// 14 parameters per row; PostgreSQL allows 65535 per statement.
const MAX_BATCH = 500;

type UsageRow = Omit<UsageRecord, 'started_at' | 'finished_at'> & { started_at: Date; finished_at: Date };
type Pending = { record: UsageRecord; resolve: (v: 'written' | 'duplicate') => void; reject: (e: Error) => void };

export class PostgresUsageLedger implements UsageLedger {
  private readonly queue: Pending[] = [];
  private writing = false;

  constructor(private readonly pool: pg.Pool) {}

  append(r: UsageRecord): Promise<'written' | 'duplicate'> {
    const parsed = UsageRecordSchema.safeParse(r);
    if (!parsed.success) return Promise.reject(parsed.error);
    const record = parsed.data;
    return new Promise((resolve, reject) => {
      this.queue.push({ record, resolve, reject });
      if (!this.writing) void this.drain();
    });
  }

  private async drain(): Promise<void> {
    this.writing = true;
    while (this.queue.length > 0) {
      // One batch holds each request id once: a second append of an id in the same batch
      // waits for the next one, where it is seen as a duplicate.
      const batch: Pending[] = [];
      const ids = new Set<string>();
      for (let i = 0; i < this.queue.length && batch.length < MAX_BATCH; ) {
        const p = this.queue[i]!;
        if (ids.has(p.record.request_id)) i++;
        else {
          ids.add(p.record.request_id);
          batch.push(...this.queue.splice(i, 1));
        }
      }
      try {
        const rows = batch.map((_, r) => `(${COLUMNS.map((_, c) => `$${r * COLUMNS.length + c + 1}`).join(', ')})`).join(', ');
        const { rows: written } = await this.pool.query<{ request_id: string }>(
          `INSERT INTO sirocco_usage (${COLUMNS.join(', ')}) VALUES ${rows} ON CONFLICT (request_id) DO NOTHING RETURNING request_id`,
          batch.flatMap((p) => COLUMNS.map((c) => p.record[c])),
        );
        const fresh = new Set(written.map((w) => w.request_id));
        for (const p of batch) p.resolve(fresh.has(p.record.request_id) ? 'written' : 'duplicate');
      } catch (err) {
        for (const p of batch) p.reject(err as Error);
      }
    }
    this.writing = false;
  }

  async read(filter: UsageFilter = {}): Promise<UsageRecord[]> {
    checkFilter(filter);
    const { rows } = await this.pool.query<UsageRow>(
      `SELECT ${COLUMNS.join(', ')} FROM sirocco_usage WHERE ($1::text IS NULL OR key_id = $1) AND ($2::timestamptz IS NULL OR started_at >= $2) AND ($3::text IS NULL OR batch_id = $3) ORDER BY seq`,
      [filter.keyId ?? null, filter.since?.toISOString() ?? null, filter.batchId ?? null],
    );
    return rows.map((row) => ({ ...row, started_at: row.started_at.toISOString(), finished_at: row.finished_at.toISOString() }));
  }
}
