// Runs a batch's requests against an OpenAI-compatible endpoint (the gateway `sirocco batch`
// starts), `concurrency` at once — the node's sequences, so its continuous batch stays full —
// and writes each output line in input order (a killed run leaves a prefix) or as it finishes.
// Requests go out a window at a time, sorted by their prompt inside it, so requests that share
// a prefix run together while a window bounds what waits unwritten for its turn.
import type { BatchRequest, OutputLine, ParsedLine } from './batch_lines.ts';

export type Send = (request: BatchRequest) => Promise<{ status: number; requestId: string | null; body: unknown }>;
export type BatchProgress = { done: number; total: number; completionTokens: number; elapsedSeconds: number };
export type BatchRunOptions = {
  concurrency: number;
  order: 'input' | 'finished';
  send: Send;
  write: (lines: OutputLine[]) => Promise<void>;
  progress?: (p: BatchProgress) => void;
  stop?: () => boolean; // true: send nothing more (a cancelled job); what is in flight finishes
};

// One request's answer as an output line holds it, retrying an overloaded answer (429, 503)
// after its Retry-After (up to 20 times): a batch waits its turn rather than failing lines.
export async function answerWithRetry(post: () => Promise<Response>): Promise<Awaited<ReturnType<Send>>> {
  for (let attempt = 0; ; attempt++) {
    const res = await post();
    const body = (await res.json().catch(() => null)) as unknown;
    if ((res.status === 429 || res.status === 503) && attempt < 20) {
      await new Promise((r) => setTimeout(r, 1000 * Math.min(30, Number(res.headers.get('retry-after')) || 1)));
      continue;
    }
    return { status: res.status, requestId: res.headers.get('x-request-id'), body };
  }
}

const promptKey = (r: BatchRequest) => JSON.stringify(r.body.messages ?? r.body.prompt ?? '');

const completionTokens = (body: unknown) => {
  const n = (body as { usage?: { completion_tokens?: unknown } } | null)?.usage?.completion_tokens;
  return typeof n === 'number' ? n : 0;
};

// lines: the input's, less those already written (a resumed run).
export async function runBatch(lines: ParsedLine[], o: BatchRunOptions): Promise<void> {
  const started = performance.now();
  const state = { done: 0, completionTokens: 0 };
  const report = () => o.progress?.({ done: state.done, total: lines.length, completionTokens: state.completionTokens, elapsedSeconds: (performance.now() - started) / 1000 });
  // In input order: results wait here until every line before them is written.
  const ready = new Map<number, OutputLine>();
  let nextToWrite = 0;
  let writing = Promise.resolve();
  const finish = (index: number, out: OutputLine) => {
    state.done++;
    if (out.response) state.completionTokens += completionTokens(out.response.body);
    let batch: OutputLine[] = [out];
    if (o.order === 'input') {
      ready.set(index, out);
      batch = [];
      for (let r = ready.get(nextToWrite); r; r = ready.get(nextToWrite)) batch.push(r), ready.delete(nextToWrite++);
    }
    writing = writing.then(() => o.write(batch));
    report();
  };

  // The next request to send: the queue refills a window at a time, as it runs out, so the
  // workers never wait for a window's last requests to finish.
  const window = Math.max(16, 2 * o.concurrency);
  const queue: { request: BatchRequest; index: number; key: string }[] = [];
  let loaded = 0;
  const next = () => {
    while (queue.length === 0 && loaded < lines.length) {
      const slice = lines.slice(loaded, loaded + window).map((line, i) => ({ line, index: loaded + i }));
      loaded += slice.length;
      for (const { line, index } of slice) {
        if (line.ok) queue.push({ request: line.request, index, key: promptKey(line.request) });
        else finish(index, line.output);
      }
      queue.sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : a.index - b.index));
    }
    return queue.shift();
  };
  const worker = async () => {
    for (let item = o.stop?.() ? undefined : next(); item; item = o.stop?.() ? undefined : next()) {
      const { request, index } = item;
      const res = await o.send(request).catch((err: Error) => ({ error: err.message }));
      finish(
        index,
        'error' in res
          ? { id: request.id, custom_id: request.customId, response: null, error: { code: 'request_failed', message: `line ${request.line}: ${res.error}` } }
          : { id: request.id, custom_id: request.customId, response: { status_code: res.status, request_id: res.requestId, body: res.body }, error: null },
      );
    }
  };
  await Promise.all(Array.from({ length: o.concurrency }, worker));
  // Stopped early: lines finished past the first unsent one are written all the same (out of
  // input order, as OpenAI's output files may be), not thrown away after being paid for.
  const left = [...ready.entries()].sort(([a], [b]) => a - b).map(([, l]) => l);
  if (left.length > 0) writing = writing.then(() => o.write(left));
  await writing;
}
