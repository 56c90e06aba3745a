// `npm run bench:gateway`: the latency the gateway adds to a one-token completion, on each
// store (embedded files, PostgreSQL), sequentially and at rising request rates. The same
// requests go straight to the node (its internal API) and through the gateway; the added
// latency is the difference of the two distributions' p50 and p99.
// A rate of 1 means sequential: one request after the other, as many as fit in --seconds,
// rotating through node, a bare proxy (bench/bare_proxy.ts: what the extra hop alone costs) and gateway.
// First, each store's ledger write cost: one record appended at a time (latency until durable)
// and 1000 appended at once (group commit / concurrent inserts: the cost per record).
// PostgreSQL runs with fsync on here, so its commits are as durable as the file's.
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { z } from 'zod';
import { scriptArgs } from './script_args.ts';
import { NODE_SECRET_HEADER } from '../src/protocol/internal_api.ts';
import { TempModels } from '../test/helpers/models.ts';
import { startPostgres } from '../test/helpers/postgres.ts';
import { startSirocco, type Server } from '../test/helpers/servers.ts';
import { openStore } from '../src/gateway/store/gateway_store.ts';
import type { UsageRecord } from '../src/gateway/ledger/usage_record.ts';

const USAGE = `usage: npm run bench:gateway -- [--rates 1,100,300,1000] [--seconds 3] [--stores embedded,postgres]
The latency the gateway adds to a one-token completion, on each store, sequentially (rate 1) and at
rising request rates (requests/s, open loop), each for --seconds; first, each store's ledger write cost.`;
const text = { type: 'string' } as const;
const o = scriptArgs(
  USAGE,
  { rates: text, seconds: text, stores: text },
  z.object({
    rates: z.string().default('1,100,300,1000').transform((s) => s.split(',').map(Number)),
    seconds: z.coerce.number().positive().default(3),
    stores: z.string().default('embedded,postgres').transform((s) => s.split(',') as ('embedded' | 'postgres')[]),
  }),
);

const NODE_SECRET = 'test-node-secret-0123456789';
const PROMPT = [1, 100, 200, 300, 400]; // ids inside mistral-tiny's 512-token vocabulary

type Sample = { ms: number; ok: boolean };
const quantile = (xs: number[], q: number) => xs[Math.min(xs.length - 1, Math.floor(q * xs.length))] ?? NaN;

async function timed(call: () => Promise<Response>): Promise<Sample> {
  const t0 = performance.now();
  try {
    const res = await call();
    await res.arrayBuffer();
    return { ms: performance.now() - t0, ok: res.ok };
  } catch {
    return { ms: performance.now() - t0, ok: false };
  }
}

/** Open loop: one request every 1/rate s, whatever the answers do. */
async function load(rate: number, call: () => Promise<Response>): Promise<{ samples: Sample[]; achieved: number }> {
  const end = performance.now() + o.seconds * 1000;
  const started = performance.now();
  const samples: Sample[] = [];
  const pending: Promise<void>[] = [];
  for (let i = 0; performance.now() < end; i++) {
    const due = started + (i * 1000) / rate;
    const wait = due - performance.now();
    if (wait > 0) await new Promise((r) => setTimeout(r, wait));
    pending.push(timed(call).then((s) => void samples.push(s)));
  }
  await Promise.all(pending);
  return { samples, achieved: samples.length / ((performance.now() - started) / 1000) };
}

/** Sequential: one request after the other, rotating through the paths so that all see the
 *  same machine (on 2 cores, a burst of noise in one path's block would otherwise count as
 *  gateway overhead or hide it). */
async function rotate(paths: (() => Promise<Response>)[]): Promise<{ samples: Sample[][]; achieved: number }> {
  const started = performance.now();
  const end = started + o.seconds * 1000;
  const samples = paths.map(() => [] as Sample[]);
  while (performance.now() < end) for (const [i, call] of paths.entries()) samples[i]!.push(await timed(call));
  return { samples, achieved: samples[0]!.length / ((performance.now() - started) / 1000) };
}

async function startBareProxy(upstream: string): Promise<{ url: string; stop: () => void }> {
  const child = spawn(process.execPath, ['--import', 'tsx', 'bench/bare_proxy.ts', upstream], { stdio: ['pipe', 'pipe', 'inherit'] });
  const line = await new Promise<string>((resolve, reject) => {
    createInterface({ input: child.stdout! }).once('line', resolve);
    child.once('exit', () => reject(new Error('bare proxy exited')));
  });
  return { url: z.object({ url: z.string() }).parse(JSON.parse(line)).url, stop: () => child.kill() };
}

function summary(samples: Sample[]) {
  const ms = samples.filter((s) => s.ok).map((s) => s.ms).sort((a, b) => a - b);
  return { p50: quantile(ms, 0.5), p99: quantile(ms, 0.99), failed: samples.filter((s) => !s.ok).length };
}

let sequence = 0;
const usageRecord = (): UsageRecord => {
  const now = new Date().toISOString();
  return { request_id: `bench-${process.pid}-${++sequence}`, key_id: 'key_bench', model: 'bench', endpoint: 'completions', status: 'ok', prompt_tokens: 5, cached_tokens: 0, completion_tokens: 1, n: 1, node: 'http://127.0.0.1:1', started_at: now, finished_at: now, error: null, cost: null, batch_id: null };
};

async function ledgerCost(where: { dataDir: string; databaseUrl: string | null }): Promise<string> {
  const store = await openStore(where);
  try {
    const one: number[] = [];
    for (let i = 0; i < 300; i++) {
      const t0 = performance.now();
      await store.ledger.append(usageRecord());
      one.push(performance.now() - t0);
    }
    one.sort((a, b) => a - b);
    const t0 = performance.now();
    await Promise.all(Array.from({ length: 1000 }, () => store.ledger.append(usageRecord())));
    const perRecord = (performance.now() - t0) / 1000;
    return `one at a time p50 ${quantile(one, 0.5).toFixed(3)} / p99 ${quantile(one, 0.99).toFixed(3)} ms; 1000 at once ${(perRecord * 1000).toFixed(0)} µs per record`;
  } finally {
    await store.close();
  }
}

const models = new TempModels();
const cleanups: (() => Promise<unknown>)[] = [async () => models.cleanup()];
try {
  const dir = await models.make({ preset: 'mistral-tiny', seed: 1 });
  const node = await startSirocco(['node', '--model', dir, '--port', '0', '--model-id', 'bench', '--max-sequences', '64']);
  cleanups.unshift(() => node.stop());
  const proxy = await startBareProxy(node.url);
  cleanups.unshift(async () => proxy.stop());
  const toNode = (base: string) => () =>
    fetch(`${base}/internal/v1/generate`, {
      method: 'POST',
      headers: { [NODE_SECRET_HEADER]: NODE_SECRET, 'content-type': 'application/json' },
      body: JSON.stringify({ request_id: `r${Math.random()}`, tenant: 't', session_key: null, prompt_tokens: PROMPT, max_tokens: 1, temperature: 0, top_p: 1, top_k: 0, seed: null, stop: [], logprobs: false, top_logprobs: 0 }),
    });
  const direct = toNode(node.url);
  const viaProxy = toNode(proxy.url);

  console.log(`one-token completions (prompt ${PROMPT.length} tokens, mistral-tiny), ${o.seconds} s per row; node ${process.version}\n`);
  console.log('store      rate/s  achieved  node p50/p99 ms   gateway p50/p99 ms   added p50/p99 ms   failed');
  for (const store of o.stores) {
    let env: NodeJS.ProcessEnv = { SIROCCO_DATABASE_URL: '' };
    if (store === 'postgres') {
      const pg = await startPostgres({ durable: true });
      cleanups.unshift(() => pg.stop());
      env = { SIROCCO_DATABASE_URL: pg.url };
    }
    console.log(`${store} ledger write: ${await ledgerCost({ dataDir: join(models.root, `ledger-${store}`), databaseUrl: env.SIROCCO_DATABASE_URL || null })}`);
    const gateway: Server = await startSirocco(['gateway', '--nodes', node.url, '--port', '0', '--data', join(models.root, `data-${store}`), '--health-interval-ms', '200'], env);
    cleanups.unshift(() => gateway.stop());
    const key = await new Promise<string>((resolve, reject) => {
      const child = spawn(process.execPath, ['bin/sirocco.js', 'keys', 'create', '--name', 'bench', '--data', join(models.root, `data-${store}`)], { env: { ...process.env, ...env } });
      let out = '';
      child.stdout.on('data', (d: Buffer) => (out += d.toString()));
      child.on('exit', (code) => (code === 0 ? resolve(out.trim()) : reject(new Error('keys create failed'))));
    });
    for (let i = 0; i < 100 && !((await (await fetch(`${gateway.url}/health`)).json()) as { ready: boolean }).ready; i++) await new Promise((r) => setTimeout(r, 100));
    const viaGateway = () =>
      fetch(`${gateway.url}/v1/completions`, {
        method: 'POST',
        headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
        body: JSON.stringify({ model: 'bench', prompt: PROMPT, max_tokens: 1, temperature: 0 }),
      });
    await rotate([direct, viaProxy, viaGateway]); // warm up every path
    for (const rate of o.rates) {
      let n: { samples: Sample[] }, g: { samples: Sample[]; achieved: number };
      if (rate === 1) {
        const all = await rotate([direct, viaProxy, viaGateway]);
        [n, g] = [{ samples: all.samples[0]! }, { samples: all.samples[2]!, achieved: all.achieved }];
        const floor = summary(all.samples[1]!);
        const a = summary(n.samples);
        console.log(`${'(bare proxy: the hop alone)'.padEnd(35)}${(floor.p50 - a.p50).toFixed(2).padStart(23)} / ${(floor.p99 - a.p99).toFixed(2).padStart(6)}`);
      } else {
        n = await load(rate, direct);
        g = await load(rate, viaGateway);
      }
      const a = summary(n.samples);
      const b = summary(g.samples);
      const f = (x: number) => x.toFixed(2).padStart(6);
      console.log(
        `${store.padEnd(10)} ${String(rate).padStart(6)}  ${g.achieved.toFixed(0).padStart(8)}  ${f(a.p50)} / ${f(a.p99)}    ${f(b.p50)} / ${f(b.p99)}     ${f(b.p50 - a.p50)} / ${f(b.p99 - a.p99)}   ${a.failed + b.failed}`,
      );
    }
  }
} finally {
  for (const c of cleanups) await c().catch(() => undefined);
}
