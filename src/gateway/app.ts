// The OpenAI-compatible gateway: /v1/models[/{id}], /v1/chat/completions, /v1/completions,
// /v1/responses (stateless), /tokenize and /detokenize (tokenize_routes.ts), usage, admin and
// /metrics (admin_routes.ts), /health and /ready. Every request is authenticated, validated and
// rate-limited here, so nothing invalid reaches a node; errors use the OpenAI error object.
import { timingSafeEqual } from 'node:crypto';
import { Hono, type Context, type MiddlewareHandler } from 'hono';
import { cors } from 'hono/cors';
import { SpanKind, SpanStatusCode } from '@opentelemetry/api';
import { log } from '../telemetry/log.ts';
import { context, REQUEST_ID_ATTRIBUTE, trace, tracer } from '../telemetry/tracing.ts';
import { adminRoutes } from './admin_routes.ts';
import { batchRoutes } from './batches/batch_routes.ts';
import { BATCH_ID_HEADER, BATCH_KEY_HEADER, BATCH_LINE_HEADER, BATCH_TOKEN_HEADER, lineRequestSuffix } from './batches/batch_worker.ts';
import { bodyLimit, type BodyVariables } from './body_limit.ts';
import { admit, respondStream, respondWhole } from './completion_handler.ts';
import { MAX_BODY_BYTES, MAX_DRAIN_BYTES, type GatewayDeps } from './gateway_deps.ts';
import { IgnoredFieldLog } from './ignored_fields.ts';
import type { KeyRecord } from './keys/key_store.ts';
import type { Endpoint } from './ledger/usage_record.ts';
import { modelCard } from './model_cards.ts';
import type { ServedModel } from './node_pool.ts';
import { playgroundHtml } from './playground/playground.ts';
import { playgroundRoutes } from './playground/playground_routes.ts';
import { recordRejection } from './rejections.ts';
import { servedModel } from './served_model.ts';
import { invalidRequest, OpenAIError, sendError } from './openai_error.ts';
import { ChatCompletionRequest, CompletionRequest } from './openai_requests.ts';
import type { Priority } from '../protocol/internal_api.ts';
import { planChat, planCompletion, type RequestIds, type RequestPlan } from './request_plan.ts';
import type { RateLimitDecision } from './rate_limit.ts';
import { parseJson, validate } from './request_validation.ts';
import { chatFormat, completionFormat, type FormatCommon, type ResponseFormat } from './response_format.ts';
import { asResponsesError, chatRequestOf, ResponsesRequest, responsesFormat } from './responses_api.ts';
import { tokenizeRoutes } from './tokenize_routes.ts';
import { randomHex } from '../util/random_hex.ts';

// A Batch API job's lines (the worker's token): batch priority, billed with the job's id, and
// a request id of the line's own (requestSuffix), so a line run twice is billed once.
type Env = { Variables: { key: KeyRecord; priority: Priority; batchId: string; requestSuffix: string } & BodyVariables };

const safeEqual = (a: string, b: string) => a.length === b.length && timingSafeEqual(Buffer.from(a), Buffer.from(b));
const unauthorized = (message: string) => new OpenAIError(401, message, 'authentication_error', null, 'invalid_api_key');
// A refusal of the rate limiter; promptTokens is null when it came before the prompt was counted.
const rateLimited = (r: Extract<RateLimitDecision, { allowed: false }>, promptTokens: number | null) =>
  new OpenAIError(
    429,
    r.exceedsLimit
      ? `Request too large: its ${promptTokens} prompt tokens exceed your limit of tokens per minute.`
      : `Rate limit reached for ${r.reason} per minute: retry in ${r.retryAfterSeconds} s.`,
    'rate_limit_error',
    null,
    'rate_limit_exceeded',
    r.headers,
  );

export function createGatewayApp(deps: GatewayDeps): Hono<Env> {
  const app = new Hono<Env>();

  app.onError((err, c) => {
    if (err instanceof OpenAIError) return sendError(c, err);
    return sendError(c, new OpenAIError(500, `internal error: ${err.message}`, 'server_error'));
  });
  app.notFound((c) => sendError(c, new OpenAIError(404, `Unknown route ${c.req.method} ${c.req.path}`, 'not_found_error', null, 'unknown_url')));

  // Browsers from the configured origins (--cors-origins); preflights need no key.
  if (deps.corsOrigins.length > 0) app.use('*', cors({ origin: deps.corsOrigins.includes('*') ? '*' : deps.corsOrigins, allowHeaders: ['authorization', 'content-type', 'x-session-id'], maxAge: 600 }));

  // /health: the gateway is up (200 whatever the nodes do: the autoscaling group's ELB check
  // must not recycle gateways while the GPU nodes scale to zero); `ready` says whether a node
  // serves any model. /ready answers 503 until one does, for balancers that should wait.
  const readiness = () => {
    const models = deps.pool.modelIds();
    return { ok: true, ready: models.length > 0, models };
  };
  app.get('/health', (c) => c.json(readiness()));
  // The playground: a page that calls this API with the key its user pastes (no key to load it).
  app.get('/', (c) => c.html(playgroundHtml()));
  app.get('/ready', (c) => {
    const r = readiness();
    return c.json(r, r.ready ? 200 : 503);
  });

  // Every route but /health needs a valid, unrevoked key.
  const requireKey: MiddlewareHandler<Env> = async (c, next) => {
    const refuse = (message: string) => {
      deps.metrics.recordRejection(c.req.path.slice(0, 64), 'invalid_api_key');
      log('warn', 'request rejected', { route: c.req.path.slice(0, 64), status: 401, reason: 'invalid_api_key' });
      return unauthorized(message);
    };
    // A batch job's line, from this gateway's worker: as the key that created the job.
    const token = c.req.header(BATCH_TOKEN_HEADER);
    if (token !== undefined) {
      const keyId = c.req.header(BATCH_KEY_HEADER);
      const key = safeEqual(token, deps.batches.token) && keyId ? await deps.keys.get(keyId) : null;
      if (!key || key.revoked_at !== null) throw refuse('The batch job\'s key is unknown or revoked.');
      c.set('key', key);
      c.set('priority', 'batch');
      const batchId = c.req.header(BATCH_ID_HEADER);
      const line = c.req.header(BATCH_LINE_HEADER);
      if (batchId) c.set('batchId', batchId);
      if (batchId && line) c.set('requestSuffix', lineRequestSuffix(batchId, line));
      return next();
    }
    const match = /^Bearer\s+(\S+)$/i.exec(c.req.header('authorization') ?? '');
    if (!match) throw refuse('You did not provide an API key: send it as "Authorization: Bearer sk-...".');
    const key = await deps.keys.verify(match[1]!);
    if (!key) throw refuse('Incorrect or revoked API key provided.');
    c.set('key', key);
    await next();
  };
  app.use('/v1/*', requireKey);
  app.use('/metrics', requireKey);
  app.use('/tokenize', requireKey);
  app.use('/detokenize', requireKey);
  app.use('/playground/model', requireKey);
  app.use('/playground/model/*', requireKey);
  app.route('/', playgroundRoutes(deps));
  app.route('/', batchRoutes(deps.batches.files, deps.batches.jobs, deps.batches.worker));
  app.route('/', tokenizeRoutes(deps));

  app.route('/', adminRoutes(deps));

  const servedCards = () => deps.pool.modelIds().flatMap((id) => deps.pool.model(id) ?? []).map(modelCard);
  app.get('/v1/models', (c) => c.json({ object: 'list', data: servedCards() }));
  // Ids may contain slashes (org/name), hence the regex.
  app.get('/v1/models/:id{.+}', (c) => {
    const id = c.req.param('id');
    const card = servedCards().find((m) => m.id === id);
    if (!card) throw new OpenAIError(404, `The model '${id}' does not exist.`, 'invalid_request_error', 'model', 'model_not_found');
    return c.json(card);
  });

  // A completion body longer than any served model's longest prompt could be (6 bytes per
  // character, JSON's worst escape, plus room for tools and schemas) is refused by its size,
  // before it is decoded or parsed: a 2 MB prompt then costs its bytes' arrival, not tens of
  // milliseconds of the event loop that every other request waits behind.
  const limitCompletionBody = bodyLimit({
    maxBytes: () => Math.min(MAX_BODY_BYTES, 6 * (deps.pool.longestPromptChars() ?? MAX_BODY_BYTES) + 256 * 1024),
    drainBytes: MAX_DRAIN_BYTES,
  });
  const ignoredFields = new IgnoredFieldLog();

  // What every completion route shares once its body is validated: the model, the plan, the
  // rate limit, a node to route to, then the run, billed in the usage ledger.
  const serve = async (
    c: Context<Env>,
    requestId: string,
    endpoint: Endpoint,
    req: ChatCompletionRequest | CompletionRequest,
    planOf: (model: ServedModel, ids: RequestIds) => Promise<RequestPlan>,
    formatOf: (common: FormatCommon, plan: RequestPlan) => ResponseFormat,
  ): Promise<Response> => {
    const key = c.get('key');
    const model = servedModel(deps.pool, req.model);
    const sessionHeader = c.req.header('x-session-id');
    // Checked here: the node would refuse it, and its refusal is no answer for a client.
    if (sessionHeader !== undefined && !/^[\x21-\x7e]{1,256}$/.test(sessionHeader))
      throw invalidRequest('x-session-id must be 1-256 visible ASCII characters (no spaces)', 'x-session-id');
    const ids: RequestIds = { requestId, tenant: key.id, sessionHeader, priority: c.get('priority') ?? 'interactive' };
    // Admission before work: a key out of requests or tokens is refused before its prompt is
    // tokenized (a throttled client sending 400 kB prompts costs a counter read each).
    const spent = await deps.limiter.precheck(key.id, key.limits);
    if (spent) throw rateLimited(spent, null);
    const plan = await planOf(model, ids);

    const verdict = await deps.limiter.check(key.id, key.limits, plan.promptTokens.length);
    for (const [k, v] of Object.entries(verdict.headers)) c.header(k, v);
    if (!verdict.allowed) throw rateLimited(verdict, plan.promptTokens.length);
    if (deps.pool.route(req.model, plan.sessionKey).length === 0) {
      verdict.release();
      throw new OpenAIError(503, `No healthy node serves model ${req.model} right now.`, 'server_error', null, 'no_node_available');
    }

    c.header('x-request-id', requestId);
    const common: FormatCommon = {
      id: requestId,
      created: Math.floor(Date.now() / 1000),
      model: req.model,
      tokenizer: model.tokenizer,
      logprobs: plan.logprobs,
      tokenIds: plan.tokenIdsInLogprobs,
      includeUsage: plan.includeUsage,
      usageOnFinish: !plan.includeUsage && plan.n === 1,
      toolCalls: plan.toolCalls,
    };
    const job = admit(deps, { requestId, endpoint, keyId: key.id, keyLimits: key.limits, model: req.model, batchId: c.get('batchId') ?? null, plan, format: formatOf(common, plan), span: trace.getActiveSpan() ?? null });
    return plan.stream ? respondStream(c, deps, job) : respondWhole(c, deps, job);
  };

  const PREFIX: Record<Endpoint, string> = { 'chat.completions': 'chatcmpl-', completions: 'cmpl-', responses: 'resp_' };
  // A completion route: `handle` validates and serves; a refusal on the way is recorded.
  // The request's span (tracing.ts) is active while it runs and ends with its usage record.
  const completionRoute = (route: string, endpoint: Endpoint, handle: (c: Context<Env>, requestId: string, body: unknown) => Promise<Response>) =>
    app.post(route, limitCompletionBody, async (c) => {
      const startedAt = new Date();
      const requestId = `${PREFIX[endpoint]}${c.get('requestSuffix') ?? randomHex(12)}`;
      const span = tracer().startSpan(`POST ${route}`, { kind: SpanKind.SERVER, attributes: { [REQUEST_ID_ATTRIBUTE]: requestId, 'sirocco.key_id': c.get('key').id } });
      let body: unknown = null;
      try {
        body = parseJson(c.get('body'));
        return await context.with(trace.setSpan(context.active(), span), () => handle(c, requestId, body));
      } catch (err) {
        span.setStatus({ code: SpanStatusCode.ERROR, message: (err as Error).message });
        span.end();
        if (!(err instanceof OpenAIError)) throw err;
        const model = typeof (body as { model?: unknown } | null)?.model === 'string' ? (body as { model: string }).model : '';
        await recordRejection(deps, { requestId, keyId: c.get('key').id, endpoint, model, startedAt, error: err, batchId: c.get('batchId') ?? null });
        throw err;
      }
    });
  const validation = (c: Context<Env>, route: string) => ({ strict: deps.strictParams, onIgnored: (fields: string[]) => ignoredFields.note(c.get('key').id, route, fields) });

  completionRoute('/v1/chat/completions', 'chat.completions', (c, requestId, body) => {
    const req = validate(ChatCompletionRequest, body, validation(c, '/v1/chat/completions'));
    return serve(c, requestId, 'chat.completions', req, (model, ids) => planChat(req, model, ids), (common) => chatFormat(common));
  });
  completionRoute('/v1/completions', 'completions', (c, requestId, body) => {
    const req = validate(CompletionRequest, body, validation(c, '/v1/completions'));
    return serve(c, requestId, 'completions', req, (model, ids) => planCompletion(req, model, ids), (common) => completionFormat(common));
  });
  // The Responses API, stateless: the request becomes a chat completion (responses_api.ts)
  // and runs exactly as /v1/chat/completions does; only the answer's shape differs.
  completionRoute('/v1/responses', 'responses', (c, requestId, body) => {
    const req = validate(ResponsesRequest, body, validation(c, '/v1/responses'));
    const chat = chatRequestOf(req);
    return serve(c, requestId, 'responses', chat, (model, ids) => asResponsesError(() => planChat(chat, model, ids)), (common) => responsesFormat(common, req));
  });
  return app;
}
