// The usage ledger in PostgreSQL: one row per request, the request id as primary key, so a
// retried append (after a timeout, or by another replica) is reported as a duplicate and never
// billed twice. A row is committed before append() resolves; read() returns append order.
import type pg from 'pg';
import { checkFilter, type UsageFilter, type UsageLedger } from '../ledger/usage_ledger.ts';
import { UsageRecordSchema, type UsageRecord } from '../ledger/usage_record.ts';

const COLUMNS = ['request_id', 'key_id', 'model', 'endpoint', 'status', 'prompt_tokens', 'cached_tokens', 'completion_tokens', 'n', 'node', 'started_at', 'finished_at', 'error'] as const;

type UsageRow = Omit<UsageRecord, 'started_at' | 'finished_at'> & { started_at: Date; finished_at: Date };

export class PostgresUsageLedger implements UsageLedger {
  constructor(private readonly pool: pg.Pool) {}

  async append(r: UsageRecord): Promise<'written' | 'duplicate'> {
    const record = UsageRecordSchema.parse(r);
    const placeholders = COLUMNS.map((_, i) => `$${i + 1}`).join(', ');
    const { rowCount } = await this.pool.query(
      `INSERT INTO sirocco_usage (${COLUMNS.join(', ')}) VALUES (${placeholders}) ON CONFLICT (request_id) DO NOTHING`,
      COLUMNS.map((c) => record[c]),
    );
    return rowCount === 1 ? 'written' : 'duplicate';
  }

  async read(filter: UsageFilter = {}): Promise<UsageRecord[]> {
    checkFilter(filter);
    const { rows } = await this.pool.query<UsageRow>(
      `SELECT ${COLUMNS.join(', ')} FROM sirocco_usage WHERE ($1::text IS NULL OR key_id = $1) AND ($2::timestamptz IS NULL OR started_at >= $2) ORDER BY seq`,
      [filter.keyId ?? null, filter.since?.toISOString() ?? null],
    );
    return rows.map((row) => ({ ...row, started_at: row.started_at.toISOString(), finished_at: row.finished_at.toISOString() }));
  }
}
