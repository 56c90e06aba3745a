// The Batch API's running state in PostgreSQL, for every replica: a job's output lines so far
// (sirocco_batch_lines, in the order written) and which replica runs which job
// (sirocco_batches.claimed_by). A claim holds while its replica heartbeats in sirocco_gateways
// (the admission journal's heartbeat); a replica silent for `staleMs` counts as dead, and its
// job goes to the next replica that looks.
import type pg from 'pg';
import type { OutputLine } from '../../batch/batch_lines.ts';
import { UNFINISHED, type JobClaims } from '../batches/batch_jobs.ts';
import type { JobLines } from '../batches/job_lines.ts';

const MAX_ROWS = 1000; // 3 parameters a row

export class PostgresJobLines implements JobLines {
  constructor(private readonly pool: pg.Pool) {}

  async read(batchId: string): Promise<OutputLine[]> {
    const { rows } = await this.pool.query<{ line: OutputLine }>('SELECT line FROM sirocco_batch_lines WHERE batch_id = $1 ORDER BY seq', [batchId]);
    return rows.map((r) => r.line);
  }

  async append(batchId: string, lines: OutputLine[]): Promise<void> {
    for (let i = 0; i < lines.length; i += MAX_ROWS) {
      const rows = lines.slice(i, i + MAX_ROWS);
      await this.pool.query(
        `INSERT INTO sirocco_batch_lines (batch_id, output_id, line) VALUES ${rows.map((_, r) => `($${3 * r + 1}, $${3 * r + 2}, $${3 * r + 3})`).join(', ')} ON CONFLICT DO NOTHING`,
        rows.flatMap((l) => [batchId, l.id, JSON.stringify(l)]),
      );
    }
  }

  async drop(batchId: string): Promise<void> {
    await this.pool.query('DELETE FROM sirocco_batch_lines WHERE batch_id = $1', [batchId]);
  }
}

export class PostgresJobClaims implements JobClaims {
  constructor(
    private readonly pool: pg.Pool,
    private readonly staleMs: number,
  ) {}

  // SKIP LOCKED: two replicas looking at once take different jobs (or one takes it, the other none).
  async claim(replica: string): Promise<string | null> {
    const { rows } = await this.pool.query<{ id: string }>(
      `UPDATE sirocco_batches SET claimed_by = $1
       WHERE id = (
         SELECT b.id FROM sirocco_batches b
         WHERE b.record->>'status' = ANY($2::text[])
           AND (b.claimed_by IS NULL OR b.claimed_by = $1 OR NOT EXISTS (
             SELECT 1 FROM sirocco_gateways g WHERE g.id = b.claimed_by AND g.seen_at > now() - make_interval(secs => $3::double precision / 1000)))
         ORDER BY b.created_at, b.id
         LIMIT 1
         FOR UPDATE SKIP LOCKED)
       RETURNING id`,
      [replica, UNFINISHED, this.staleMs],
    );
    return rows[0]?.id ?? null;
  }

  async release(replica: string): Promise<void> {
    await this.pool.query('UPDATE sirocco_batches SET claimed_by = NULL WHERE claimed_by = $1', [replica]);
  }
}
