// Billing and administration over HTTP, for the store every replica shares:
//   GET  /v1/usage                 usage of the calling key by time bucket (admin: every key),
//                                  in the shape of OpenAI's usage API
//   GET  /v1/admin/usage           every usage record, as JSON, JSON lines or CSV (exports)
//   GET|POST /v1/admin/keys, DELETE /v1/admin/keys/{id}   list, create, revoke keys
//   GET  /metrics                  Prometheus text (every tenant's key ids and totals)
// Admin routes need an admin key ('sirocco keys create --admin'); others get a 403.
import { Hono, type MiddlewareHandler } from 'hono';
import { z } from 'zod';
import { PROMETHEUS_CONTENT_TYPE } from '../telemetry/prometheus.ts';
import type { GatewayDeps } from './gateway_deps.ts';
import { KeyLimitsSchema, KeyNameSchema, publicKeyView, type KeyRecord } from './keys/key_store.ts';
import { USAGE_COLUMNS, type UsageRecord } from './ledger/usage_record.ts';
import { OpenAIError } from './openai_error.ts';
import { parseJson, validate } from './request_validation.ts';
import { usageBuckets } from './usage_buckets.ts';

type Env = { Variables: { key: KeyRecord } };

const strict = { strict: true, onIgnored: () => {} };

const publicView = (r: KeyRecord) => ({ object: 'api_key', ...publicKeyView(r) });

const unixSeconds = z.coerce.number().int().nonnegative();
const UsageQuery = z.strictObject({
  start_time: unixSeconds,
  end_time: unixSeconds.optional(),
  bucket_width: z.enum(['1h', '1d']).default('1d'),
  group_by: z
    .string()
    .transform((s) => s.split(',').filter(Boolean))
    .pipe(z.array(z.enum(['model', 'api_key_id'])))
    .default([]),
  limit: z.coerce.number().int().positive().max(31).optional(),
});

const ExportQuery = z.strictObject({
  since: z.iso.datetime({ offset: true }).optional(),
  key_id: z.string().optional(),
  format: z.enum(['json', 'jsonl', 'csv']).default('jsonl'),
});

const CreateKeyBody = z.strictObject({
  name: KeyNameSchema,
  requests_per_minute: KeyLimitsSchema.shape.requests_per_minute.optional(),
  tokens_per_minute: KeyLimitsSchema.shape.tokens_per_minute.optional(),
  admin: z.boolean().optional(),
});

const csvCell = (v: unknown) => {
  const s = v === null ? '' : String(v);
  return /[",\n\r]/.test(s) ? `"${s.replaceAll('"', '""')}"` : s;
};
const toCsv = (records: UsageRecord[]) => [USAGE_COLUMNS.join(','), ...records.map((r) => USAGE_COLUMNS.map((c) => csvCell(r[c])).join(','))].join('\n') + '\n';

const queryOf = (url: string) => Object.fromEntries(new URL(url).searchParams);

export function adminRoutes(deps: GatewayDeps): Hono<Env> {
  const app = new Hono<Env>();
  const requireAdmin: MiddlewareHandler<Env> = async (c, next) => {
    if (!c.get('key').admin) throw new OpenAIError(403, 'This route needs an admin key: create one with sirocco keys create --admin.', 'permission_error', null, 'admin_key_required');
    await next();
  };
  app.use('/v1/admin/*', requireAdmin);
  app.use('/metrics', requireAdmin);

  app.get('/metrics', async (c) => c.text(await deps.metrics.render(), 200, { 'content-type': PROMETHEUS_CONTENT_TYPE }));

  app.get('/v1/usage', async (c) => {
    const q = validate(UsageQuery, queryOf(c.req.url), strict);
    const key = c.get('key');
    const end = q.end_time ?? Math.ceil(Date.now() / 1000);
    if (end <= q.start_time) throw new OpenAIError(400, 'end_time must be after start_time', 'invalid_request_error', 'end_time');
    const records = await deps.ledger.read({ keyId: key.admin ? undefined : key.id, since: new Date(q.start_time * 1000) });
    const page = usageBuckets(records, { start: q.start_time, end, width: q.bucket_width, groupBy: q.group_by });
    return c.json(q.limit ? { ...page, data: page.data.slice(0, q.limit) } : page);
  });

  app.get('/v1/admin/usage', async (c) => {
    const q = validate(ExportQuery, queryOf(c.req.url), strict);
    const records = await deps.ledger.read({ keyId: q.key_id, since: q.since ? new Date(q.since) : undefined });
    if (q.format === 'csv') return c.body(toCsv(records), 200, { 'content-type': 'text/csv; charset=utf-8' });
    if (q.format === 'json') return c.json({ object: 'list', data: records });
    return c.body(records.map((r) => JSON.stringify(r) + '\n').join(''), 200, { 'content-type': 'application/jsonl; charset=utf-8' });
  });

  app.get('/v1/admin/keys', async (c) => c.json({ object: 'list', data: (await deps.keys.list()).map(publicView) }));
  app.post('/v1/admin/keys', async (c) => {
    const body = validate(CreateKeyBody, parseJson(await c.req.text()), strict);
    const { record, key } = await deps.keys.create(body.name, { requests_per_minute: body.requests_per_minute ?? null, tokens_per_minute: body.tokens_per_minute ?? null }, { admin: body.admin ?? false });
    return c.json({ ...publicView(record), key }, 201);
  });
  app.delete('/v1/admin/keys/:id', async (c) => {
    const id = c.req.param('id');
    if (!(await deps.keys.revoke(id))) throw new OpenAIError(404, `No API key has the id '${id}'.`, 'not_found_error', 'id', 'key_not_found');
    return c.json({ object: 'api_key.deleted', id, deleted: true });
  });
  return app;
}
