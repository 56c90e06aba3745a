// The node's internal HTTP API (used only by gateways). Every route requires the shared
// secret. Generation streams over SSE: `token` events, then one `done` or `error` event.
// A client that disconnects aborts its generation; its batch slot is free at the next step.
import { timingSafeEqual } from 'node:crypto';
import { Hono, type Context } from 'hono';
import { GenerateBody, NODE_SECRET_HEADER, type DoneEvent, type ReadyStatus, type TokenEvent } from '../protocol/internal_api.ts';
import { PROMETHEUS_CONTENT_TYPE } from '../telemetry/prometheus.ts';
import { requestBody } from '../util/request_body.ts';
import { eventStream } from './event_stream.ts';
import { GenerateTrace } from './generate_trace.ts';
import { ResponseFormatError, type TokenMatcher } from './grammar/index.ts';
import type { ServingHost } from './node_host.ts';
import { RecentGenerations } from './recent_generations.ts';

function secretMatches(given: string | undefined, secret: Buffer): boolean {
  if (given === undefined) return false;
  const g = Buffer.from(given);
  return g.length === secret.length && timingSafeEqual(g, secret);
}

// The request body as JSON, or null if it is not.
async function jsonBody(c: Context): Promise<unknown> {
  try {
    const chunks: Uint8Array[] = [];
    for await (const chunk of requestBody(c) ?? []) chunks.push(chunk);
    return JSON.parse(Buffer.concat(chunks).toString('utf8'));
  } catch {
    return null;
  }
}

/** maxQueue: requests allowed to wait for a batch slot; past it, 503 with Retry-After at once. */
export function createNodeApp(host: ServingHost, secret: string, options: { maxQueue: number } = { maxQueue: 256 }): Hono {
  if (secret.length < 16) throw new Error('node secret must be at least 16 characters');
  const secretBytes = Buffer.from(secret);
  const app = new Hono();

  app.use('*', async (c, next) => {
    if (!secretMatches(c.req.header(NODE_SECRET_HEADER), secretBytes)) return c.json({ error: 'unauthorized' }, 401);
    await next();
  });

  app.get('/internal/v1/live', (c) => c.json({ ok: true }));

  app.get('/internal/v1/ready', (c) => {
    const status: ReadyStatus = { ready: host.ready, model: host.service?.info.id ?? null, draining: host.draining, ...(host.failure ? { error: host.failure } : {}) };
    return c.json(status, host.ready ? 200 : 503);
  });

  app.get('/internal/v1/model', (c) => (host.service ? c.json(host.service.info) : c.json({ error: 'model is still loading' }, 503)));

  app.get('/internal/v1/metrics', async (c) => c.text(await host.metrics.render(), 200, { 'content-type': PROMETHEUS_CONTENT_TYPE }));

  const recent = new RecentGenerations();
  app.get('/internal/v1/generations/:id', (c) => {
    const report = recent.get(c.req.param('id'));
    return report ? c.json(report) : c.json({ error: 'no such request id on this node' }, 404);
  });

  const generateRequests = host.metrics.meter.createCounter('sirocco_node_generate_requests_total');
  app.post('/internal/v1/generate', async (c) => {
    generateRequests.add(1);
    const service = host.service;
    if (!service) return c.json({ error: 'model is still loading' }, 503);
    if (host.draining) return c.json({ error: 'node is draining' }, 503);
    // Load shedding: a full queue answers now (Retry-After: the gateway tries another node,
    // or tells its client when to come back) rather than making the request wait unbounded.
    if (service.runner.stats().waiting >= options.maxQueue) return c.json({ error: 'node is busy' }, 503, { 'retry-after': '1' });
    const parsed = GenerateBody.safeParse(await jsonBody(c));
    if (!parsed.success) return c.json({ error: `invalid generate request: ${parsed.error.issues[0]!.message}` }, 400);
    const body = parsed.data;
    const limit = service.info.max_context;
    if (body.prompt_tokens.length + body.max_tokens > limit)
      return c.json({ error: `prompt (${body.prompt_tokens.length}) + max_tokens (${body.max_tokens}) exceeds the context (${limit})` }, 400);
    if (body.prompt_tokens.some((t) => t >= service.info.vocab_size)) return c.json({ error: 'token id outside the vocabulary' }, 400);
    const outside = [...body.logit_bias.map(([t]) => t), ...body.stop_token_ids, body.grammar_trigger_token ?? 0].find((t) => t >= service.info.vocab_size);
    if (outside !== undefined) return c.json({ error: `token id ${outside} in logit_bias, stop_token_ids or grammar_trigger_token is outside the vocabulary` }, 400);

    let grammar: TokenMatcher | null;
    try {
      grammar = await service.grammarFor(body.response_format);
    } catch (err) {
      if (err instanceof ResponseFormatError) return c.json({ error: err.message }, 400);
      throw err;
    }

    return eventStream(c, (sink, onClose) => {
      const spans = new GenerateTrace(c.req.header(), body.request_id, body.prompt_tokens.length);
      const report = recent.started(body.request_id);
      const handle = service.submit({
        grammar,
        grammarTrigger: body.grammar_trigger_token,
        tenant: body.tenant,
        sessionKey: body.session_key,
        priority: body.priority,
        prompt: body.prompt_tokens,
        params: {
          maxTokens: body.max_tokens,
          seed: body.seed,
          stop: body.stop,
          ignoreEos: body.ignore_eos,
          stopTokenIds: body.stop_token_ids,
          rules: {
            presencePenalty: body.presence_penalty,
            frequencyPenalty: body.frequency_penalty,
            repetitionPenalty: body.repetition_penalty,
            logitBias: body.logit_bias,
            minTokens: body.min_tokens,
          },
          sampling: {
            temperature: body.temperature,
            topP: body.top_p,
            topK: body.top_k,
            minP: body.min_p,
            logprobs: body.logprobs,
            topLogprobs: body.top_logprobs,
          },
        },
        listener: {
          onToken: (e) => {
            report.completion_tokens++;
            spans.token();
            sink.send('token', e satisfies TokenEvent);
          },
          onDone: (r) => {
            Object.assign(report, { completion_tokens: r.usage.completionTokens, finished: true });
            spans.end({ completionTokens: r.usage.completionTokens, finishReason: r.finishReason });
            grammar?.dispose();
            sink.send('done', {
              finish_reason: r.finishReason,
              tail: r.tail,
              usage: { prompt_tokens: r.usage.promptTokens, cached_tokens: r.usage.cachedTokens, completion_tokens: r.usage.completionTokens },
            } satisfies DoneEvent);
            sink.end();
          },
          onError: (err) => {
            report.finished = true;
            spans.end({ error: err.message });
            grammar?.dispose();
            sink.send('error', { message: err.message });
            sink.end();
          },
        },
      });
      onClose(() => handle.abort());
    });
  });

  return app;
}
