// Runs a planned completion on the nodes and answers the client — one JSON body, or SSE
// chunks ending in `data: [DONE]` — then writes exactly one usage record (fsynced) before the
// response completes. Tokens are billed as delivered: an aborted or failed stream records
// what the client actually received.
import type { Context } from 'hono';
import { streamSSE } from 'hono/streaming';
import type { DoneEvent, TokenEvent } from '../protocol/internal_api.ts';
import { log } from '../telemetry/log.ts';
import type { Span } from '../telemetry/tracing.ts';
import { NoNodeAvailable, runChoice } from './choice_runner.ts';
import type { GatewayDeps } from './gateway_deps.ts';
import type { Endpoint, UsageRecord, UsageStatus } from './ledger/usage_record.ts';
import { NodeRejected } from './node_client.ts';
import { OpenAIError, sendError } from './openai_error.ts';
import { costOf } from './pricing.ts';
import type { RateLimits } from './rate_limit.ts';
import type { RequestPlan } from './request_plan.ts';
import type { ChoiceResult, OpenAIUsage, ResponseFormat } from './response_format.ts';

export type CompletionJob = {
  requestId: string;
  endpoint: Endpoint;
  keyId: string;
  keyLimits: RateLimits;
  model: string;
  batchId: string | null; // a Batch API job's line: its job
  span: Span | null; // the request's trace span, ended with its record
  plan: RequestPlan;
  format: ResponseFormat;
  admitted: Promise<void>; // its admission journaled (Billing.admit)
};

type ChoiceState = ChoiceResult & { delivered: number; done: DoneEvent | null; node: string | null; firstTokenAt: number | null };

function usageOf(plan: RequestPlan, choices: ChoiceState[], completionTokens: number): OpenAIUsage {
  const prompt = plan.promptTokens.length;
  return {
    prompt_tokens: prompt,
    completion_tokens: completionTokens,
    total_tokens: prompt + completionTokens,
    prompt_tokens_details: { cached_tokens: choices[0]?.done?.usage.cached_tokens ?? 0 },
  };
}

// The usage ledger refused the request's record (it is kept and retried: the request will be
// billed): the client is told, in band, rather than shown a response that looks complete.
const billingUnavailable = () =>
  new OpenAIError(503, 'The response was generated but could not be recorded for billing; it will be recorded once storage recovers. Retry later.', 'server_error', null, 'billing_unavailable', { 'retry-after': '5' });

// The request ran past the gateway's --request-timeout-ms: its node work is cancelled.
class RequestTimedOut extends Error {}

/** Aborts `controller` after the gateway's request timeout; call the result to clear it. */
function deadline(controller: AbortController, ms: number): () => void {
  const timer = setTimeout(() => controller.abort(new RequestTimedOut(`The request took longer than this server's limit of ${Math.round(ms / 1000)} s and was stopped.`)), ms);
  return () => clearTimeout(timer);
}

// What ended a request: the deadline's reason when it fired, else what was thrown.
const causeOf = (controller: AbortController, err: unknown) => (controller.signal.reason instanceof RequestTimedOut ? controller.signal.reason : err);

// The usage record of `job` with this outcome: its final record, or the provisional one its
// admission journals (admit()).
function recordOf(
  deps: GatewayDeps,
  job: Omit<CompletionJob, 'admitted'>,
  o: { status: UsageStatus; usage: OpenAIUsage; node: string | null; startedAt: Date; error: string | null },
): UsageRecord {
  const tokens = { prompt_tokens: o.usage.prompt_tokens, cached_tokens: o.usage.prompt_tokens_details.cached_tokens, completion_tokens: o.usage.completion_tokens };
  return {
    request_id: job.requestId,
    key_id: job.keyId,
    model: job.model,
    endpoint: job.endpoint,
    status: o.status,
    ...tokens,
    n: job.plan.n,
    node: o.node,
    started_at: o.startedAt.toISOString(),
    finished_at: new Date().toISOString(),
    error: o.error,
    cost: costOf(deps.prices, job.model, tokens),
    batch_id: job.batchId,
  };
}

/**
 * Journals the admission of `job` — what to bill if this process dies before it ends: its
 * prompt, no completion, status 'interrupted' — while the node starts on it.
 */
export function admit(deps: GatewayDeps, job: Omit<CompletionJob, 'admitted'>): CompletionJob {
  const provisional = recordOf(deps, job, { status: 'interrupted', usage: usageOf(job.plan, [], 0), node: null, startedAt: new Date(), error: null });
  return { ...job, admitted: deps.billing.admit(provisional) };
}

const internalError = (err: unknown) => (err instanceof NodeRejected ? `${err.detail}: ${err.message}` : (err as Error).message);

// What the client is told: never a node's address or raw error (those go to the log, with
// the request id, in finishRecord).
function nodeFailure(err: unknown): OpenAIError {
  if (err instanceof RequestTimedOut) return new OpenAIError(504, err.message, 'server_error', null, 'request_timeout');
  if (err instanceof NoNodeAvailable) return new OpenAIError(503, err.message, 'server_error', null, err.busy ? 'server_overloaded' : 'no_node_available', { 'retry-after': '1' });
  if (err instanceof NodeRejected) return new OpenAIError(400, `The request was refused: ${err.message}`, 'invalid_request_error');
  return new OpenAIError(502, 'The inference node failed while answering; retry the request.', 'server_error', null, 'node_failure');
}

async function finishRecord(
  deps: GatewayDeps,
  job: CompletionJob,
  choices: ChoiceState[],
  status: UsageStatus,
  startedAt: Date,
  completionTokens: number,
  error: string | null,
): Promise<{ usage: OpenAIUsage; billed: boolean }> {
  const usage = usageOf(job.plan, choices, completionTokens);
  const record = recordOf(deps, job, { status, usage, node: choices[0]?.node ?? null, startedAt, error });
  const billed = await deps.billing.finish(record, job.admitted);
  deps.metrics.recordRequest({
    keyId: job.keyId,
    model: job.model,
    endpoint: job.endpoint,
    status,
    promptTokens: usage.prompt_tokens,
    cachedTokens: usage.prompt_tokens_details.cached_tokens,
    completionTokens: usage.completion_tokens,
  });
  const now = Date.now();
  const firstToken = Math.min(...choices.map((c) => c.firstTokenAt ?? Infinity));
  const afterFirst = usage.completion_tokens - choices.filter((c) => c.firstTokenAt !== null).length;
  deps.metrics.observeLatency({
    model: job.model,
    endpoint: job.endpoint,
    status,
    durationSeconds: (now - startedAt.getTime()) / 1000,
    ...(Number.isFinite(firstToken) ? { timeToFirstTokenSeconds: (firstToken - startedAt.getTime()) / 1000 } : {}),
    ...(Number.isFinite(firstToken) && afterFirst > 0 ? { timePerOutputTokenSeconds: (now - firstToken) / 1000 / afterFirst } : {}),
  });
  for (const c of choices) if (c.done) deps.metrics.recordFinish(job.model, c.done.finish_reason);
  job.span?.setAttributes({ 'sirocco.status': status, 'sirocco.prompt_tokens': usage.prompt_tokens, 'sirocco.completion_tokens': usage.completion_tokens });
  job.span?.end();
  // The prompt was charged at admission; a failing shared store must not fail the response.
  await deps.limiter.record(job.keyId, job.keyLimits, usage.completion_tokens).catch((err: Error) => log('warn', 'rate-limit charge failed', { key_id: job.keyId, error: err.message }));
  log(status === 'ok' ? 'info' : 'warn', 'request finished', {
    request_id: job.requestId,
    key_id: job.keyId,
    model: job.model,
    status,
    prompt_tokens: usage.prompt_tokens,
    completion_tokens: usage.completion_tokens,
    ms: Date.now() - startedAt.getTime(),
    ...(error === null ? {} : { error }), // the whole story, node address included: logs only
  });
  return { usage, billed };
}

// Feeds one choice's node events into its state; `onToken` sees each token as it arrives.
async function driveChoice(
  deps: GatewayDeps,
  job: CompletionJob,
  index: number,
  state: ChoiceState,
  signal: AbortSignal,
  onToken: (t: TokenEvent) => Promise<void>,
): Promise<void> {
  const attempt = { node: null as string | null };
  const events = runChoice(deps.pool, job.model, job.plan.sessionKey, job.plan.bodies[index]!, signal, () => state.delivered > 0, attempt, { connectMs: deps.connectTimeoutMs, idleMs: deps.nodeIdleTimeoutMs });
  for await (const e of events) {
    state.node = attempt.node;
    if (e.type === 'restart') {
      state.text = '';
      state.tokens = [];
    } else if (e.type === 'token') {
      state.firstTokenAt ??= Date.now();
      state.tokens.push(e.token);
      state.text += e.token.text;
      await onToken(e.token);
    } else {
      state.done = e.done;
      state.text += e.done.tail;
      state.finishReason = e.done.finish_reason === 'abort' ? 'stop' : e.done.finish_reason;
    }
  }
}

const newChoices = (n: number): ChoiceState[] =>
  Array.from({ length: n }, () => ({ text: '', tokens: [], finishReason: 'stop', delivered: 0, done: null, node: null, firstTokenAt: null }));

export async function respondWhole(c: Context, deps: GatewayDeps, job: CompletionJob): Promise<Response> {
  const startedAt = new Date();
  const choices = newChoices(job.plan.n);
  const controller = new AbortController();
  const onClientGone = () => controller.abort();
  c.req.raw.signal.addEventListener('abort', onClientGone);
  const clearDeadline = deadline(controller, deps.requestTimeoutMs);
  try {
    await Promise.all(choices.map((s, i) => driveChoice(deps, job, i, s, controller.signal, async () => {})));
  } catch (thrown) {
    const err = causeOf(controller, thrown);
    controller.abort();
    // A client that left is billed what the node generated for it until then (it chose to
    // leave; a stream is billed the same way); a failure of ours is not billed.
    // No node could take it (all busy or down): refused before any work, like a 429.
    const status: UsageStatus = c.req.raw.signal.aborted ? 'aborted' : err instanceof NoNodeAvailable ? 'rejected' : 'failed';
    if (err instanceof NoNodeAvailable) deps.metrics.recordRejection(job.endpoint, err.busy ? 'server_overloaded' : 'no_node_available');
    const generated = status === 'aborted' ? choices.reduce((n, ch) => n + ch.tokens.length, 0) : 0;
    await finishRecord(deps, job, choices, status, startedAt, generated, internalError(err));
    return sendError(c, nodeFailure(err));
  } finally {
    clearDeadline();
    c.req.raw.signal.removeEventListener('abort', onClientGone);
  }
  const completion = choices.reduce((s, ch) => s + (ch.done?.usage.completion_tokens ?? 0), 0);
  const { usage, billed } = await finishRecord(deps, job, choices, 'ok', startedAt, completion, null);
  if (!billed) return sendError(c, billingUnavailable());
  return c.json(job.format.body(choices, usage));
}

export function respondStream(c: Context, deps: GatewayDeps, job: CompletionJob): Response {
  const startedAt = new Date();
  const choices = newChoices(job.plan.n);
  const controller = new AbortController();
  return streamSSE(c, async (stream) => {
    stream.onAbort(() => controller.abort());
    // One writer at a time: chunks of concurrent choices must not interleave mid-event.
    let writing: Promise<unknown> = Promise.resolve();
    const events = job.format.events;
    const sse = (data: Record<string, unknown>) => ({ ...(events ? { event: String(data.type) } : {}), data: JSON.stringify(data) });
    const send = (data: Record<string, unknown>) => (writing = writing.then(() => stream.writeSSE(sse(data))));
    for (let i = 0; i < choices.length; i++) for (const chunk of job.format.start(i)) await send(chunk);

    let failure: unknown = null;
    const clearDeadline = deadline(controller, deps.requestTimeoutMs);
    await Promise.all(
      choices.map((state, i) =>
        driveChoice(deps, job, i, state, controller.signal, async (t) => {
          state.delivered++;
          for (const chunk of job.format.token(i, t)) await send(chunk);
        })
          .then(() => Promise.all(job.format.finish(i, state.done!).map(send)))
          .catch((err) => {
            failure ??= causeOf(controller, err);
            controller.abort(); // one failed choice ends the whole response
          }),
      ),
    );
    clearDeadline();
    await writing.catch(() => undefined);
    const delivered = choices.reduce((s, ch) => s + ch.delivered, 0);
    if (stream.aborted) {
      await finishRecord(deps, job, choices, 'aborted', startedAt, delivered, 'client disconnected');
      return;
    }
    if (failure !== null) {
      await finishRecord(deps, job, choices, 'failed', startedAt, delivered, internalError(failure));
      // The client already has a 200 and some chunks: an error event, and no [DONE].
      const err = nodeFailure(failure);
      await stream.writeSSE({ event: 'error', data: JSON.stringify(events ? events.error(err) : err.body()) });
      return;
    }
    const { usage, billed } = await finishRecord(deps, job, choices, 'ok', startedAt, delivered, null);
    if (!billed) {
      // Not a silent truncation: the client learns the response is not complete on our side.
      const err = billingUnavailable();
      await stream.writeSSE({ event: 'error', data: JSON.stringify(events ? events.error(err) : err.body()) });
      return;
    }
    if (events) {
      for (const chunk of events.end(usage)) await stream.writeSSE(sse(chunk));
      return;
    }
    if (job.plan.includeUsage) await stream.writeSSE({ data: JSON.stringify(job.format.usage(usage)) });
    await stream.writeSSE({ data: '[DONE]' });
  });
}
