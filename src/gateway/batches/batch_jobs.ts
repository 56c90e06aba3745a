// /v1/batches' jobs: their records in the gateway's store (a folder or PostgreSQL), the output
// lines of a running job beside them (job_lines.ts), and which gateway runs which job
// (JobClaims), so a gateway that restarts — or another replica, once the one running a job
// has died — resumes the jobs not finished (batch_worker.ts).
import { randomBytes } from 'node:crypto';
import { z } from 'zod';
import type { JobLines } from './job_lines.ts';
import { ownedBy, type RecordTable } from './record_table.ts';

export const BATCH_ENDPOINTS = ['/v1/chat/completions', '/v1/completions'] as const;
const Status = z.enum(['validating', 'failed', 'in_progress', 'finalizing', 'completed', 'expired', 'cancelling', 'cancelled']);
const at = z.number().int().nullable();
export const BATCH_ID = /^batch_[0-9a-f]{24}$/;
export const BatchRecord = z.object({
  id: z.string(),
  object: z.literal('batch'),
  endpoint: z.enum(BATCH_ENDPOINTS),
  errors: z.object({ object: z.literal('list'), data: z.array(z.object({ code: z.string(), message: z.string(), line: z.number().nullable(), param: z.string().nullable() })) }).nullable(),
  input_file_id: z.string(),
  completion_window: z.literal('24h'),
  status: Status,
  output_file_id: z.string().nullable(),
  error_file_id: z.string().nullable(),
  created_at: z.number().int(),
  in_progress_at: at,
  expires_at: at,
  finalizing_at: at,
  completed_at: at,
  failed_at: at,
  expired_at: at,
  cancelling_at: at,
  cancelled_at: at,
  request_counts: z.object({ total: z.number().int(), completed: z.number().int(), failed: z.number().int() }),
  metadata: z.record(z.string(), z.string()).nullable(),
  owner: z.string(), // key id: never shown
});
export type BatchRecord = z.infer<typeof BatchRecord>;
export const batchView = ({ owner: _owner, ...shown }: BatchRecord) => shown;
export const UNFINISHED: BatchRecord['status'][] = ['validating', 'in_progress', 'finalizing', 'cancelling'];

const now = () => Math.floor(Date.now() / 1000);

/** Which gateway runs which unfinished job. */
export interface JobClaims {
  /**
   * The oldest unfinished job that no live gateway but `replica` runs, now claimed by `replica`
   * (until it stops, or goes silent long enough to count as dead), or null.
   */
  claim(replica: string): Promise<string | null>;
  /** `replica` stops: its jobs are free for the others at once. */
  release(replica: string): Promise<void>;
}

/** One gateway per store (the embedded one): every unfinished job is this gateway's. */
export const soleClaims = (records: RecordTable<BatchRecord>): JobClaims => ({
  claim: async () => (await records.list(null)).reverse().find((j) => UNFINISHED.includes(j.status))?.id ?? null,
  release: async () => {},
});

export class BatchJobs {
  constructor(
    private readonly records: RecordTable<BatchRecord>,
    readonly lines: JobLines,
    readonly claims: JobClaims,
  ) {}

  async create(owner: string, r: { endpoint: BatchRecord['endpoint']; input_file_id: string; metadata: Record<string, string> | null }): Promise<BatchRecord> {
    const created = now();
    const record: BatchRecord = {
      id: `batch_${randomBytes(12).toString('hex')}`,
      object: 'batch',
      ...r,
      errors: null,
      completion_window: '24h',
      status: 'validating',
      output_file_id: null,
      error_file_id: null,
      created_at: created,
      in_progress_at: null,
      expires_at: created + 24 * 3600,
      finalizing_at: null,
      completed_at: null,
      failed_at: null,
      expired_at: null,
      cancelling_at: null,
      cancelled_at: null,
      request_counts: { total: 0, completed: 0, failed: 0 },
      owner,
    };
    await this.records.save(record);
    return record;
  }

  read(id: string): Promise<BatchRecord | null> {
    return this.records.read(id);
  }

  get(owner: string, id: string): Promise<BatchRecord | null> {
    return ownedBy(this.records, owner, id);
  }

  // Newest first; owner null: every key's.
  list(owner: string | null): Promise<BatchRecord[]> {
    return this.records.list(owner);
  }

  // Applies `change` to the stored job, one change at a time (routes and workers, of any replica, change jobs).
  update(id: string, change: (r: BatchRecord) => void): Promise<BatchRecord> {
    return this.records.update(id, change);
  }
}
