// OpenAI's Files and Batch APIs, so `client.files.create` + `client.batches.create` work
// unchanged: /v1/files (upload, list, retrieve, content, delete) and /v1/batches (create,
// list, retrieve, cancel). Each key sees its own files and jobs only; the jobs run in the
// gateway's BatchWorker.
import { Hono, type Context } from 'hono';
import { z } from 'zod';
import type { KeyRecord } from '../keys/key_store.ts';
import { invalidRequest, OpenAIError } from '../openai_error.ts';
import { BATCH_ENDPOINTS, batchView, type BatchJobs } from './batch_jobs.ts';
import type { BatchWorker } from './batch_worker.ts';
import { FilePurpose, fileView, type FileObjects } from './file_objects.ts';

type Env = { Variables: { key: KeyRecord } };
const MAX_FILE_BYTES = 200 * 1024 * 1024; // OpenAI's limit for a batch input file

const notFound = (what: string, id: string) => new OpenAIError(404, `No ${what} found with id '${id}'.`, 'invalid_request_error', 'id', 'not_found');

const CreateBatch = z.strictObject({
  input_file_id: z.string().min(1),
  endpoint: z.enum(BATCH_ENDPOINTS, { error: `must be one of ${BATCH_ENDPOINTS.join(', ')}` }),
  completion_window: z.literal('24h', { error: 'must be "24h"' }),
  metadata: z.record(z.string(), z.string().max(512)).nullable().optional(),
});

// ?limit=&after= over a list newest first: OpenAI's cursor pages.
function page<T extends { id: string }>(c: Context<Env>, items: T[]) {
  const limit = Math.min(100, Math.max(1, Number(c.req.query('limit') ?? 20) || 20));
  const after = c.req.query('after');
  const start = after ? items.findIndex((i) => i.id === after) + 1 : 0;
  const data = items.slice(start, start + limit);
  return { object: 'list', data, first_id: data[0]?.id ?? null, last_id: data.at(-1)?.id ?? null, has_more: start + limit < items.length };
}

export function batchRoutes(files: FileObjects, jobs: BatchJobs, worker: BatchWorker): Hono<Env> {
  const app = new Hono<Env>();
  const owner = (c: Context<Env>) => c.get('key').id;

  app.post('/v1/files', async (c) => {
    // Refused by its declared size before a byte is read: the form is parsed in memory.
    const declared = Number(c.req.header('content-length'));
    if (!Number.isFinite(declared)) throw new OpenAIError(411, 'Send the upload with a Content-Length.', 'invalid_request_error');
    if (declared > MAX_FILE_BYTES + 64 * 1024) throw new OpenAIError(413, `The upload is ${declared} bytes; a file may have ${MAX_FILE_BYTES}.`, 'invalid_request_error', 'file');
    const form = await c.req.parseBody().catch(() => {
      throw invalidRequest('Send the file as multipart/form-data with the fields file and purpose.');
    });
    const file = form.file;
    if (!(file instanceof File)) throw invalidRequest("Missing the 'file' field (multipart/form-data).", 'file');
    const purpose = FilePurpose.safeParse(form.purpose);
    if (!purpose.success) throw invalidRequest(`'purpose' must be one of ${FilePurpose.options.join(', ')}.`, 'purpose');
    if (file.size > MAX_FILE_BYTES) throw new OpenAIError(413, `The file is ${file.size} bytes; the limit is ${MAX_FILE_BYTES}.`, 'invalid_request_error', 'file');
    const record = await files.create(owner(c), file.name || 'upload', purpose.data, new Uint8Array(await file.arrayBuffer()));
    return c.json(fileView(record));
  });
  app.get('/v1/files', async (c) => c.json(page(c, (await files.list(owner(c), c.req.query('purpose'))).map(fileView))));
  app.get('/v1/files/:id', async (c) => {
    const record = await files.get(owner(c), c.req.param('id'));
    if (!record) throw notFound('file', c.req.param('id'));
    return c.json(fileView(record));
  });
  app.get('/v1/files/:id/content', async (c) => {
    const record = await files.get(owner(c), c.req.param('id'));
    if (!record) throw notFound('file', c.req.param('id'));
    return c.body(await files.content(record.id), 200, { 'content-type': 'application/octet-stream' });
  });
  app.delete('/v1/files/:id', async (c) => {
    const id = c.req.param('id');
    if (!(await files.delete(owner(c), id))) throw notFound('file', id);
    return c.json({ id, object: 'file', deleted: true });
  });

  app.post('/v1/batches', async (c) => {
    const parsed = CreateBatch.safeParse(await c.req.json().catch(() => null));
    if (!parsed.success) {
      const issue = parsed.error.issues[0]!;
      throw invalidRequest(issue.path.length ? `Invalid value for '${issue.path.join('.')}': ${issue.message}` : issue.message, issue.path.join('.') || null);
    }
    const input = await files.get(owner(c), parsed.data.input_file_id);
    if (!input) throw notFound('file', parsed.data.input_file_id);
    if (input.purpose !== 'batch') throw invalidRequest(`The file ${input.id} was uploaded with purpose '${input.purpose}', not 'batch'.`, 'input_file_id');
    const job = await jobs.create(owner(c), { endpoint: parsed.data.endpoint, input_file_id: input.id, metadata: parsed.data.metadata ?? null });
    worker.poke();
    return c.json(batchView(job));
  });
  app.get('/v1/batches', async (c) => c.json(page(c, (await jobs.list(owner(c))).map(batchView))));
  app.get('/v1/batches/:id', async (c) => {
    const job = await jobs.get(owner(c), c.req.param('id'));
    if (!job) throw notFound('batch', c.req.param('id'));
    return c.json(batchView(job));
  });
  app.post('/v1/batches/:id/cancel', async (c) => {
    const id = c.req.param('id');
    if (!(await jobs.get(owner(c), id))) throw notFound('batch', id);
    const job = await jobs.update(id, (r) => {
      if (r.status === 'validating' || r.status === 'in_progress') (r.status = 'cancelling'), (r.cancelling_at = Math.floor(Date.now() / 1000));
    });
    worker.poke();
    return c.json(batchView(job));
  });
  return app;
}
