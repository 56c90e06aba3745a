// A tokenizer worker thread: builds the tokenizer from the files it was started with, then
// encodes the texts tokenizer_workers.ts sends, one at a time.
import { setPriority } from 'node:os';
import { parentPort, workerData } from 'node:worker_threads';
import { z } from 'zod';
import { Tokenizer } from './tokenizer.ts';
import type { TokenizerSource, WorkerJob } from './tokenizer_workers.ts';

const Job = z.object({ id: z.number(), text: z.string(), addSpecialTokens: z.boolean() });
// Lower this thread's CPU priority to the least, nice 19 (on Linux, setpriority without a pid applies to the
// calling thread only): a long prompt's encoding yields the cores to the event loop and the
// engine, so the requests beside it keep their latency, and it uses whatever is left.
try {
  setPriority(19);
} catch {
  // not permitted here: run at normal priority
}
const source = workerData as TokenizerSource;
const tokenizer = Tokenizer.fromJson(source.tokenizer, source.config);

parentPort!.on('message', (raw: unknown) => {
  const job: WorkerJob = Job.parse(raw);
  try {
    parentPort!.postMessage({ id: job.id, ok: true, ids: tokenizer.encode(job.text, { addSpecialTokens: job.addSpecialTokens }) });
  } catch (err) {
    parentPort!.postMessage({ id: job.id, ok: false, message: (err as Error).message });
  }
});
