// Runs /v1/batches jobs, oldest first, one at a time, each line through this gateway's own
// completion routes as the key that created the job (so it is validated, rate-limited and
// billed like any request of that key). A job is claimed first (JobClaims): replicas on one
// store never run the same job, and one that dies leaves its job to the others. A job's
// output lines are stored as they are written (in input order, job_lines.ts), so whoever runs
// it next skips what is there; at the end they split into the output file (2xx responses) and
// the error file (the rest). A line's request id derives from the job and the line, so a line
// that was running when its gateway died, run again, is billed once (the ledger keeps one
// record per request id).
import { createHash } from 'node:crypto';
import { parseBatchInput, type BatchRequest, type OutputLine, type ParsedLine } from '../../batch/batch_lines.ts';
import { answerWithRetry, runBatch } from '../../batch/batch_runner.ts';
import { log } from '../../telemetry/log.ts';
import type { BatchJobs, BatchRecord } from './batch_jobs.ts';
import type { FileObjects } from './file_objects.ts';

// One line of job `batchId` through the gateway's routes as the key `owner`.
export type SendAs = (owner: string, batchId: string, request: BatchRequest) => Promise<{ status: number; requestId: string | null; body: unknown }>;

// How the worker's requests authenticate: a token only this process knows, and the job's key
// (and its id, for the usage records).
export const BATCH_TOKEN_HEADER = 'x-sirocco-batch-token';
export const BATCH_KEY_HEADER = 'x-sirocco-batch-key';
export const BATCH_ID_HEADER = 'x-sirocco-batch-id';
export const BATCH_LINE_HEADER = 'x-sirocco-batch-line'; // the line's output id

// The request id's random part for a job's line: the same each time the line runs.
export const lineRequestSuffix = (batchId: string, outputId: string) => createHash('sha256').update(`${batchId}\n${outputId}`).digest('hex').slice(0, 24);

// SendAs through a gateway app in this process (Hono's app.request: no socket).
export const sendThrough =
  (app: () => { request: (path: string, init: RequestInit) => Response | Promise<Response> }, token: string): SendAs =>
  (owner, batchId, request) =>
    answerWithRetry(async () =>
      app().request(request.url, {
        method: 'POST',
        headers: { 'content-type': 'application/json', [BATCH_TOKEN_HEADER]: token, [BATCH_KEY_HEADER]: owner, [BATCH_ID_HEADER]: batchId, [BATCH_LINE_HEADER]: request.id },
        body: JSON.stringify(request.body),
      }),
    );

const now = () => Math.floor(Date.now() / 1000);
const succeeded = (l: OutputLine) => l.response !== null && l.response.status_code >= 200 && l.response.status_code < 300;

export class BatchWorker {
  private stopped = false;
  private wake: (() => void) | null = null;
  private running: Promise<void> | null = null;

  constructor(
    private readonly jobs: BatchJobs,
    private readonly files: FileObjects,
    private readonly send: SendAs,
    private readonly concurrency: number,
    private readonly replica: string, // this gateway's name in the store's claims
  ) {}

  start(): void {
    this.running ??= this.loop();
  }

  // A job was created or cancelled: look again now.
  poke(): void {
    this.wake?.();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.poke();
    await this.running;
  }

  private async loop(): Promise<void> {
    while (!this.stopped) {
      // (A store that cannot be read is logged, not a crash: the gateway serves on.)
      const job = await this.jobs.claims.claim(this.replica).then(
        async (id) => (id === null ? null : await this.jobs.read(id)),
        (err: Error) => void log('error', 'cannot read the batch jobs', { error: err.message }),
      );
      if (!job) {
        await new Promise<void>((resolve) => {
          this.wake = resolve;
          setTimeout(resolve, 5000).unref();
        });
        this.wake = null;
        continue;
      }
      await this.run(job).catch(async (err: Error) => {
        log('error', 'batch failed', { batch: job.id, error: err.message });
        await this.jobs.update(job.id, (r) => {
          r.status = 'failed';
          r.failed_at = now();
          r.errors = { object: 'list', data: [{ code: 'internal_error', message: err.message, line: null, param: null }] };
        });
      });
    }
    await this.jobs.claims.release(this.replica).catch(() => undefined); // else free once this gateway counts as dead
  }

  private async run(job: BatchRecord): Promise<void> {
    const input = await this.files.get(job.owner, job.input_file_id);
    if (!input) throw new Error(`the input file ${job.input_file_id} is gone`);
    const lines = parseBatchInput(new TextDecoder().decode(await this.files.content(input.id)));
    const wrongUrl = lines.find((l) => l.ok && l.request.url !== job.endpoint);
    if (wrongUrl?.ok) {
      await this.jobs.update(job.id, (r) => {
        r.status = 'failed';
        r.failed_at = now();
        r.errors = { object: 'list', data: [{ code: 'invalid_url', message: `line ${wrongUrl.request.line}: url ${wrongUrl.request.url} is not the batch's endpoint ${job.endpoint}`, line: wrongUrl.request.line, param: 'url' }] };
      });
      return;
    }
    const written = await this.jobs.lines.read(job.id);
    const done = new Set(written.map((l) => l.id));
    const todo = lines.filter((l) => !done.has(l.ok ? l.request.id : l.output.id));
    const counts = { total: lines.length, completed: 0, failed: 0 };
    for (const l of written) counts[succeeded(l) ? 'completed' : 'failed']++;
    const started = await this.jobs.update(job.id, (r) => {
      if (r.status === 'validating') (r.status = 'in_progress'), (r.in_progress_at = now());
      r.request_counts = { ...counts };
    });
    let cancelled = started.status === 'cancelling';
    let expiresAt = started.expires_at;
    const expired = () => expiresAt !== null && now() >= expiresAt;
    await runBatch(todo, {
      concurrency: this.concurrency,
      order: 'input',
      send: (request) => this.send(job.owner, job.id, request),
      write: async (fresh) => {
        await this.jobs.lines.append(job.id, fresh);
        for (const l of fresh) counts[succeeded(l) ? 'completed' : 'failed']++;
        const r = await this.jobs.update(job.id, (r) => (r.request_counts = { ...counts }));
        cancelled ||= r.status === 'cancelling';
        expiresAt = r.expires_at;
      },
      stop: () => cancelled || expired() || this.stopped,
    });
    if (this.stopped && !cancelled && !expired()) return; // resumed at the next start, or by another replica
    await this.finish(job.id, !cancelled && expired() ? lines : null);
  }

  // The stored lines → the output and error files; the job completed (or cancelled). Past its
  // completion window (`expiring`: the input's lines), the lines that never ran go to the error
  // file as OpenAI's do (batch_expired) and the job is expired.
  private async finish(id: string, expiring: ParsedLine[] | null): Promise<void> {
    const job = (await this.jobs.read(id))!;
    const lines = await this.jobs.lines.read(id);
    if (expiring) {
      const ran = new Set(lines.map((l) => l.id));
      for (const l of expiring) {
        if (ran.has(l.ok ? l.request.id : l.output.id)) continue;
        lines.push(l.ok ? { id: l.request.id, custom_id: l.request.customId, response: null, error: { code: 'batch_expired', message: 'This request could not be executed before the completion window expired.' } } : l.output);
      }
    }
    await this.jobs.update(id, (r) => (r.status = r.status === 'cancelling' ? 'cancelling' : 'finalizing', r.finalizing_at = now()));
    const text = (ls: OutputLine[]) => ls.map((l) => JSON.stringify(l) + '\n').join('');
    const ok = lines.filter(succeeded);
    const bad = lines.filter((l) => !succeeded(l));
    const out = ok.length ? await this.files.create(job.owner, `${id}_output.jsonl`, 'batch_output', text(ok)) : null;
    const err = bad.length ? await this.files.create(job.owner, `${id}_error.jsonl`, 'batch_output', text(bad)) : null;
    await this.jobs.update(id, (r) => {
      r.output_file_id = out?.id ?? null;
      r.error_file_id = err?.id ?? null;
      r.request_counts = { total: r.request_counts.total, completed: ok.length, failed: bad.length };
      if (r.status === 'cancelling') (r.status = 'cancelled'), (r.cancelled_at = now());
      else if (expiring) (r.status = 'expired'), (r.expired_at = now());
      else (r.status = 'completed'), (r.completed_at = now());
    });
    await this.jobs.lines.drop(id);
    log('info', 'batch done', { batch: id, completed: ok.length, failed: bad.length });
  }
}
