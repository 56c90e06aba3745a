// /v1/batches' jobs, one JSON file each in the data directory (replaced atomically), so a
// gateway that restarts finds them and resumes those not finished (batch_worker.ts).
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { z } from 'zod';
import { RecordFolder } from './record_folder.ts';

export const BATCH_ENDPOINTS = ['/v1/chat/completions', '/v1/completions'] as const;
const Status = z.enum(['validating', 'failed', 'in_progress', 'finalizing', 'completed', 'expired', 'cancelling', 'cancelled']);
const at = z.number().int().nullable();
const BatchRecord = z.object({
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

export class BatchJobs {
  private readonly updating = new Map<string, Promise<unknown>>(); // per job: one change at a time

  private constructor(private readonly records: RecordFolder<BatchRecord>) {}

  static async open(dataDir: string): Promise<BatchJobs> {
    return new BatchJobs(await RecordFolder.open(join(dataDir, 'batches'), /^batch_[0-9a-f]{24}$/, BatchRecord));
  }

  // Where the worker keeps a job's output lines while it runs (batch_output.ts resumes it).
  workPath(id: string): string {
    return join(this.records.dir, `${id}.work.jsonl`);
  }

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
    await this.save(record);
    return record;
  }

  save(record: BatchRecord): Promise<void> {
    return this.records.save(record);
  }

  read(id: string): Promise<BatchRecord | null> {
    return this.records.read(id);
  }

  get(owner: string, id: string): Promise<BatchRecord | null> {
    return this.records.get(owner, id);
  }

  // Newest first; owner null: every key's (the worker).
  list(owner: string | null): Promise<BatchRecord[]> {
    return this.records.list(owner);
  }

  // Applies `change` to the stored job and saves it, one change at a time per job (this
  // gateway's routes and worker both change jobs).
  update(id: string, change: (r: BatchRecord) => void): Promise<BatchRecord> {
    const run = async () => {
      const r = await this.read(id);
      if (!r) throw new Error(`no batch ${id}`);
      change(r);
      await this.save(r);
      return r;
    };
    const next = (this.updating.get(id) ?? Promise.resolve()).then(run, run);
    this.updating.set(id, next.catch(() => {}));
    return next;
  }
}
