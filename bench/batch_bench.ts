// `npm run bench:batch`: batch throughput against interactive serving on one model. A file of
// N greedy chat requests runs through `sirocco batch` and through /v1/batches of a node and
// gateway (`sirocco serve`), whose outputs must agree line for line; the same node serves
// interactive requests one at a time and C at once (clients throttling themselves). Prints
// each as requests/s, completion tokens/s and total (prompt + completion) tokens/s; then the
// time to first token of streamed interactive requests, idle and while a batch job runs.
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import OpenAI, { toFile } from 'openai';
import { z } from 'zod';
import { scriptArgs } from './script_args.ts';
import { DEFAULT_MODEL_DIR, ensureDefaultModel, servedCard, spawnService } from '../src/cli/start.ts';

const run = promisify(execFile);
const USAGE = `usage: npm run bench:batch -- [--model DIR] [--lines 1000] [--max-tokens 16] [--concurrency 16]
Batch throughput against interactive serving: --lines greedy chat requests through \`sirocco batch\` and
through /v1/batches of \`sirocco serve\` (outputs compared line for line), the same node answering one
request at a time and --concurrency at once; then the time to first token, idle and during a batch job.
--model: a model folder (default: the built-in default model).`;
const text = { type: 'string' } as const;
const o = scriptArgs(
  USAGE,
  { model: text, lines: text, 'max-tokens': text, concurrency: text },
  z.object({
    model: z.string().optional(),
    lines: z.coerce.number().int().positive().default(1000),
    'max-tokens': z.coerce.number().int().positive().default(16),
    concurrency: z.coerce.number().int().positive().default(16),
  }),
);
const log = (s: string) => process.stderr.write(s + '\n');
if (!o.model) ensureDefaultModel();
const model = o.model ?? DEFAULT_MODEL_DIR;
const MODEL_ID = 'bench';

// Prompts of a few shapes, so some share a prefix (a system prompt, a question's start).
const body = (i: number) => ({
  model: MODEL_ID,
  messages: [
    ...(i % 2 ? [{ role: 'system', content: 'You answer in one short sentence.' }] : []),
    { role: 'user', content: `Question ${i % 50}: what comes after ${i}?` },
  ],
  max_tokens: o['max-tokens'],
  temperature: 0,
});
const dir = mkdtempSync(join(tmpdir(), 'sirocco-batch-bench-'));
const input = join(dir, 'in.jsonl');
writeFileSync(input, Array.from({ length: o.lines }, (_, i) => JSON.stringify({ custom_id: `r${i}`, method: 'POST', url: '/v1/chat/completions', body: body(i) })).join('\n') + '\n');

type Line = { custom_id: string; response: { status_code: number; body: { choices: { message: { content: string } }[]; usage: { prompt_tokens: number; completion_tokens: number } } } | null };
const lines = (text: string) => text.split('\n').filter(Boolean).map((l) => JSON.parse(l) as Line);
type Rate = { label: string; requests: number; prompt: number; completion: number; seconds: number };
const rates: Rate[] = [];
const ttft = { idle: [] as number[], batch: [] as number[], batchStatus: '' };
const rateOf = (label: string, ls: Line[], seconds: number): Rate => ({
  label,
  requests: ls.length,
  prompt: ls.reduce((s, l) => s + (l.response?.body.usage.prompt_tokens ?? 0), 0),
  completion: ls.reduce((s, l) => s + (l.response?.body.usage.completion_tokens ?? 0), 0),
  seconds,
});

// 1. sirocco batch
log(`sirocco batch: ${o.lines} lines × ${o['max-tokens']} tokens on ${model} …`);
let t0 = performance.now();
const { stderr: cliLog } = await run(process.execPath, ['bin/sirocco.js', 'batch', '--model', model, '--model-id', MODEL_ID, '--max-sequences', String(o.concurrency), input, join(dir, 'cli.jsonl')]);
const cli = lines(readFileSync(join(dir, 'cli.jsonl'), 'utf8'));
rates.push(rateOf(`sirocco batch (${o.concurrency} in flight, incl. start)`, cli, (performance.now() - t0) / 1000));
// Its own last line times the lines alone, from when its node was up: the same work as /v1/batches.
const cliSeconds = Number(/run in ([\d.]+) s once the node was up/.exec(cliLog)?.[1]);
if (cliSeconds > 0) rates.push(rateOf(`sirocco batch (once its node was up)`, cli, cliSeconds));

// 2. A node and a gateway for the API runs.
const env = { ...process.env, SIROCCO_NODE_SECRET: 'bench-secret-0123456789abcdef' };
const { stdout } = await run(process.execPath, ['bin/sirocco.js', 'keys', 'create', '--name', 'bench', '--data', dir], { env });
const apiKey = stdout.trim();
const node = await spawnService(['node', '--model', model, '--model-id', MODEL_ID, '--port', '0', '--max-sequences', String(o.concurrency)], env, true);
const gateway = await spawnService(['gateway', '--nodes', node.url, '--port', '0', '--data', dir, '--batch-concurrency', String(o.concurrency)], env, true);
try {
  await servedCard(gateway.url, apiKey, MODEL_ID);
  const client = new OpenAI({ baseURL: `${gateway.url}/v1`, apiKey, maxRetries: 0 });

  log('/v1/batches: the same file …');
  t0 = performance.now();
  const file = await client.files.create({ file: await toFile(readFileSync(input), 'in.jsonl'), purpose: 'batch' });
  let batch = await client.batches.create({ input_file_id: file.id, endpoint: '/v1/chat/completions', completion_window: '24h' });
  while (!['completed', 'failed', 'cancelled'].includes(batch.status)) {
    await new Promise((r) => setTimeout(r, 200));
    batch = await client.batches.retrieve(batch.id);
    if (process.stderr.isTTY) process.stderr.write(`\r  ${batch.request_counts?.completed ?? 0}/${o.lines}`);
  }
  if (process.stderr.isTTY) process.stderr.write('\n');
  const api = lines(await (await client.files.content(batch.output_file_id!)).text());
  rates.push(rateOf(`/v1/batches (${o.concurrency} in flight)`, api, (performance.now() - t0) / 1000));
  const same = api.length === cli.length && api.every((l, i) => l.custom_id === cli[i]!.custom_id && l.response!.body.choices[0]!.message.content === cli[i]!.response!.body.choices[0]!.message.content);
  log(`outputs: /v1/batches and sirocco batch ${same ? 'agree on every line' : 'DIFFER'}`);

  // 3. Interactive: the first lines' requests one at a time, then `concurrency` at once.
  const interactive = async (concurrency: number, n: number) => {
    const queue = Array.from({ length: n }, (_, i) => i);
    const out: Line[] = [];
    const start = performance.now();
    await Promise.all(
      Array.from({ length: concurrency }, async () => {
        for (let i = queue.shift(); i !== undefined; i = queue.shift()) {
          const r = await client.chat.completions.create(body(i) as OpenAI.ChatCompletionCreateParamsNonStreaming);
          out.push({ custom_id: `r${i}`, response: { status_code: 200, body: r as unknown as NonNullable<Line['response']>['body'] } });
        }
      }),
    );
    return rateOf(`interactive, ${concurrency} at a time`, out, (performance.now() - start) / 1000);
  };
  log('interactive requests …');
  rates.push(await interactive(1, Math.min(o.lines, 64)));
  rates.push(await interactive(o.concurrency, Math.min(o.lines, 256)));

  // 4. Time to first token of streamed interactive requests, one at a time: idle, then while a
  // batch job runs (its lines yield to them: batch priority on the node).
  const ttfts = async (n: number) => {
    const out: number[] = [];
    for (let i = 0; i < n; i++) {
      const start = performance.now();
      const stream = await client.chat.completions.create({ ...(body(1000 + i) as OpenAI.ChatCompletionCreateParamsNonStreaming), stream: true });
      let first: number | null = null;
      for await (const chunk of stream) if (first === null && chunk.choices[0]?.delta?.content !== undefined) first = performance.now() - start; // read to the end: the next request starts alone
      out.push(first!);
    }
    return out.sort((a, b) => a - b);
  };
  log('time to first token, idle and beside a batch …');
  ttft.idle = await ttfts(32);
  const busy = await client.batches.create({ input_file_id: file.id, endpoint: '/v1/chat/completions', completion_window: '24h' });
  while ((await client.batches.retrieve(busy.id)).status !== 'in_progress') await new Promise((r) => setTimeout(r, 50));
  ttft.batch = await ttfts(32);
  ttft.batchStatus = (await client.batches.retrieve(busy.id)).status;
  await client.batches.cancel(busy.id);
} finally {
  // Each stopped (the gateway's worker writes its job's last lines as it stops), then the folder removed.
  await Promise.all(
    [gateway.child, node.child].map((c) => new Promise((resolve) => (c.exitCode !== null || c.signalCode !== null ? resolve(null) : (c.once('exit', resolve), c.kill('SIGTERM'))))),
  );
  rmSync(dir, { recursive: true, force: true });
}

const pct = (sorted: number[], q: number) => sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]!.toFixed(1);
const best = rates.at(-1)!; // the node's best interactive throughput: as many at once as it decodes
const cell = (s: string, w: number) => s.padEnd(w);
process.stdout.write(
  [
    `Sirocco batch bench · ${model} · ${o.lines} lines × ${o['max-tokens']} completion tokens (greedy)`,
    '',
    cell('', 46) + cell('requests/s', 12) + cell('completion tok/s', 18) + cell('total tok/s', 13) + 'vs best interactive',
    ...rates.map((r) =>
      cell(r.label, 46) +
      cell((r.requests / r.seconds).toFixed(1), 12) +
      cell((r.completion / r.seconds).toFixed(1), 18) +
      cell(((r.prompt + r.completion) / r.seconds).toFixed(1), 13) +
      `${((r.prompt + r.completion) / r.seconds / ((best.prompt + best.completion) / best.seconds)).toFixed(2)}×`,
    ),
    '',
    `time to first token, streamed, one at a time (p50 / p90 of 32): idle ${pct(ttft.idle, 0.5)} / ${pct(ttft.idle, 0.9)} ms; ` +
      `beside a batch job (still ${ttft.batchStatus} at the end) ${pct(ttft.batch, 0.5)} / ${pct(ttft.batch, 0.9)} ms`,
  ].join('\n') + '\n',
);
