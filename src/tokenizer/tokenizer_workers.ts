// Tokenizing off the event loop. Encoding is synchronous and costs about a second per few
// hundred kB of text; on the gateway's event loop, one big prompt would stall every other
// request and the nodes' health checks behind it. Texts longer than INLINE_CHARS go to worker
// threads, each holding its own copy of the tokenizer (built from the same files); shorter ones
// stay inline, where a thread hop would cost more than the encoding.
//
// Bounded: at most MAX_PENDING texts wait for a worker; beyond that encode() throws
// TokenizerBusy, which the gateway answers with 503 and Retry-After rather than a queue that
// grows without limit.
import { cpus } from 'node:os';
import { Worker } from 'node:worker_threads';
import { z } from 'zod';

export const INLINE_CHARS = 16 * 1024;
const MAX_PENDING = 64;

export class TokenizerBusy extends Error {
  override name = 'TokenizerBusy';
}

export type TokenizerSource = { tokenizer: unknown; config: unknown | null };

// Worker → pool messages (worker_threads carry plain data; zod checks it at the boundary).
export const WorkerReply = z.discriminatedUnion('ok', [
  z.object({ id: z.number(), ok: z.literal(true), ids: z.array(z.number()) }),
  z.object({ id: z.number(), ok: z.literal(false), message: z.string() }),
]);
export type WorkerJob = { id: number; text: string; addSpecialTokens: boolean };

type Pending = { resolve: (ids: number[]) => void; reject: (e: Error) => void };

export class TokenizerWorkers {
  private readonly workers: Worker[] = [];
  private readonly pending = new Map<number, Pending>();
  private readonly load = new Map<Worker, number>();
  private nextId = 0;

  // Half the cores at most (the event loop and the engine need the rest), and at least one.
  constructor(
    private readonly source: TokenizerSource,
    private readonly size = Math.max(1, Math.floor(cpus().length / 2)),
  ) {}

  encode(text: string, addSpecialTokens: boolean): Promise<number[]> {
    if (this.pending.size >= MAX_PENDING) return Promise.reject(new TokenizerBusy(`${MAX_PENDING} prompts are already waiting to be tokenized`));
    const worker = this.leastLoaded();
    const id = this.nextId++;
    return new Promise<number[]>((resolve, reject) => {
      this.pending.set(id, { resolve, reject });
      this.load.set(worker, this.load.get(worker)! + 1);
      worker.postMessage({ id, text, addSpecialTokens } satisfies WorkerJob);
    });
  }

  /** Stops the workers; texts still waiting fail. */
  async close(): Promise<void> {
    await Promise.all(this.workers.splice(0).map((w) => w.terminate()));
    this.failPending(new Error('the tokenizer was closed'));
  }

  private leastLoaded(): Worker {
    if (this.workers.length < this.size) return this.spawn();
    return this.workers.reduce((a, b) => (this.load.get(b)! < this.load.get(a)! ? b : a));
  }

  private spawn(): Worker {
    // A plain-JS entry that registers tsx first, so the worker runs the TypeScript sources
    // whether or not the main thread was started through tsx.
    const worker = new Worker(new URL('./tokenizer_worker_entry.mjs', import.meta.url), { workerData: this.source });
    worker.unref(); // idle workers never keep a process alive
    this.workers.push(worker);
    this.load.set(worker, 0);
    worker.on('message', (raw: unknown) => {
      const reply = WorkerReply.parse(raw);
      const p = this.pending.get(reply.id);
      if (!p) return;
      this.pending.delete(reply.id);
      this.load.set(worker, this.load.get(worker)! - 1);
      if (reply.ok) p.resolve(reply.ids);
      else p.reject(new Error(reply.message));
    });
    // A worker that dies fails what it held; the next encode spawns a fresh one.
    worker.on('error', (err) => this.retire(worker, err));
    worker.on('exit', (code) => this.retire(worker, new Error(`tokenizer worker exited with code ${code}`)));
    return worker;
  }

  private retire(worker: Worker, err: Error): void {
    const at = this.workers.indexOf(worker);
    if (at < 0) return;
    this.workers.splice(at, 1);
    this.load.delete(worker);
    // Jobs are not tracked per worker: fail every pending one rather than leave some hanging.
    this.failPending(new Error(`tokenizing failed: ${err.message}`));
  }

  private failPending(err: Error): void {
    for (const p of this.pending.values()) p.reject(err);
    this.pending.clear();
  }
}
