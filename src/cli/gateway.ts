// `sirocco gateway --nodes URL[,URL…] | --discover ec2:KEY=VALUE[:PORT]`: the OpenAI-compatible front door.
import { hostname } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { z } from 'zod';
import { startReconciler } from '../gateway/admission_reconciler.ts';
import { createGatewayApp } from '../gateway/app.ts';
import { BatchWorker, sendThrough } from '../gateway/batches/batch_worker.ts';
import { openFileBlobs } from '../gateway/batches/file_blobs.ts';
import { Billing } from '../gateway/billing.ts';
import { DiscoverSpec, DISCOVERY_INTERVAL_MS } from '../gateway/discovery/discover_spec.ts';
import { Ec2TagDiscovery } from '../gateway/discovery/ec2_tag_discovery.ts';
import { API_KEY_ENV, EnvKeyStore } from '../gateway/keys/env_key_store.ts';
import { GatewayMetrics } from '../gateway/metrics.ts';
import { NodePool } from '../gateway/node_pool.ts';
import { loadPrices } from '../gateway/pricing.ts';
import { RateLimiter } from '../gateway/rate_limit.ts';
import { databaseUrl, openStore } from '../gateway/store/gateway_store.ts';
import { resolveDataDir } from '../gateway/cli/data_dir.ts';
import { log } from '../telemetry/log.ts';
import { startTracing } from '../telemetry/tracing.ts';
import { randomHex } from '../util/random_hex.ts';
import { closeServer, listen, onSignals } from './serve.ts';

const USAGE = `usage: sirocco gateway (--nodes URL[,URL…] | --discover ec2:TAG_KEY=TAG_VALUE[:PORT])
                       [--port 8080] [--host 127.0.0.1] [--data DIR] [--store postgres://…] [--prices FILE]
                       [--health-interval-ms 1000] [--connect-timeout-ms 10000] [--node-idle-timeout-ms 30000] [--strict-params]
                       [--request-timeout-ms 600000] [--cors-origins https://app.example,…|*] [--reconcile-after-ms 30000]
                       [--playground-model DIR] [--batch-concurrency 16] [--files DIR|s3://bucket/prefix]
--discover lists the running EC2 instances with that tag every 15 s and uses their private
addresses as nodes (port 8081 unless given; region from AWS_REGION).
Nodes are called with the secret in SIROCCO_NODE_SECRET. API keys, the usage ledger and the
rate-limit counters live in PostgreSQL with --store postgres://… (or $SIROCCO_DATABASE_URL),
shared by every replica; else in --data (default: $SIROCCO_DATA_DIR or ~/.sirocco), for one
gateway. Create keys with 'sirocco keys create --name NAME' against the same store.
SIROCCO_API_KEY, when set, is accepted as one more key.
Request fields the gateway does not know are ignored (each name logged once per key);
--strict-params refuses them with a 400 naming the field, as OpenAI does.
--prices FILE (or $SIROCCO_PRICES): US dollars per million tokens per model, so every usage
record carries its cost: {"MODEL": {"input": 0.25, "cached_input": 0.025, "output": 0.25}, "*": …}.
--connect-timeout-ms bounds the wait for a node's first answer (then the next node is tried);
--node-idle-timeout-ms the silence of a node's stream (a hung node's requests fail over before
their first token, else end with an in-band error); --request-timeout-ms a whole request
(then 504 request_timeout, or an in-band error once streaming). A node the gateway ejects
(failed health check or request) has its requests cancelled, as a hung one's.
--cors-origins lets browsers on those origins call the API (CORS headers; default none).
--playground-model DIR: a small model (Hugging Face layout, one safetensors file, e.g. a q4_0
  one) the playground at GET / can download, with a key, and run in the browser (WASM).
--batch-concurrency N: the Batch API's jobs (/v1/files, /v1/batches) run one at a time, N of
  a job's requests at once (default 16, a node's sequences). Jobs and file records live in the
  store (replicas share them: each job runs on one replica, and another resumes it once that
  one has been silent --reconcile-after-ms); the files' bytes in --files (or $SIROCCO_FILES):
  a folder (default: files/ in --data, one machine) or s3://bucket/prefix (AWS environment),
  which replicas on several machines need.
Every admitted request is journaled, so one this gateway cannot finish (killed, crashed) is
still billed once: at its next start (embedded store), or by any replica once this one has
been silent --reconcile-after-ms (PostgreSQL), with the tokens its node reports generating.
`;

const Options = z.object({
  nodes: z
    .string()
    .transform((s) => s.split(',').map((u) => u.trim()).filter(Boolean))
    .refine((urls) => urls.length > 0 && urls.every((u) => URL.canParse(u)), 'expected comma-separated http:// URLs')
    .optional(),
  discover: DiscoverSpec.optional(),
  port: z.coerce.number().int().min(0).max(65535).default(8080),
  host: z.string().default('127.0.0.1'),
  data: z.string().optional().transform((d) => resolveDataDir(d)),
  store: z.string().optional(),
  prices: z.string().optional(),
  'health-interval-ms': z.coerce.number().int().positive().default(1000),
  'connect-timeout-ms': z.coerce.number().int().positive().default(10_000),
  'node-idle-timeout-ms': z.coerce.number().int().positive().default(30_000),
  'reconcile-after-ms': z.coerce.number().int().min(1000).default(30_000),
  'request-timeout-ms': z.coerce.number().int().positive().default(600_000),
  'playground-model': z.string().min(1).optional(),
  'batch-concurrency': z.coerce.number().int().positive().max(1024).default(16),
  files: z.string().min(1).optional(),
  'cors-origins': z
    .string()
    .transform((s) => s.split(',').map((o) => o.trim()).filter(Boolean))
    .refine((list) => list.every((o) => o === '*' || /^https?:\/\/[^/]+$/.test(o)), "expected comma-separated origins such as https://app.example (no path), or '*'")
    .default([]),
  secret: z.string({ error: 'set SIROCCO_NODE_SECRET (the secret the nodes were started with)' }).min(16, 'SIROCCO_NODE_SECRET must be at least 16 characters'),
});

// A static list and discovery would fight over the pool's membership: exactly one of them.
const OneNodeSource = Options.refine((o) => (o.nodes === undefined) !== (o.discover === undefined), {
  path: ['nodes'],
  message: 'give either --nodes URL[,URL…] or --discover ec2:TAG_KEY=TAG_VALUE[:PORT] (exactly one)',
});

export async function runGateway(argv: string[]): Promise<number> {
  let values;
  try {
    values = parseArgs({
      args: argv,
      options: {
        ...Object.fromEntries(['nodes', 'discover', 'port', 'host', 'data', 'store', 'prices', 'health-interval-ms', 'connect-timeout-ms', 'node-idle-timeout-ms', 'cors-origins', 'reconcile-after-ms', 'request-timeout-ms', 'playground-model', 'batch-concurrency', 'files'].map((k) => [k, { type: 'string' as const }])),
        'strict-params': { type: 'boolean' },
        help: { type: 'boolean', short: 'h' },
      },
    }).values;
  } catch (err) {
    process.stderr.write(`sirocco gateway: ${(err as Error).message}\n\n${USAGE}`);
    return 1;
  }
  if (values.help) {
    process.stdout.write(USAGE);
    return 0;
  }
  const parsed = OneNodeSource.safeParse({ ...values, secret: process.env.SIROCCO_NODE_SECRET });
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    process.stderr.write(`sirocco gateway: ${issue.path[0] === 'secret' ? '' : `--${String(issue.path[0])}: `}${issue.message}\n\n${USAGE}`);
    return 1;
  }
  const o = parsed.data;
  const pool = new NodePool({ urls: o.nodes ?? [], secret: o.secret, healthIntervalMs: o['health-interval-ms'], requestTimeoutMs: 5000 });
  let store;
  let blobs;
  let prices = {};
  try {
    const pricesFile = o.prices ?? process.env.SIROCCO_PRICES;
    if (pricesFile) prices = loadPrices(pricesFile);
    blobs = openFileBlobs(o.files ?? (process.env.SIROCCO_FILES || join(o.data, 'files')));
    store = await openStore({ dataDir: o.data, databaseUrl: databaseUrl(o.store) });
  } catch (err) {
    process.stderr.write(`sirocco gateway: ${(err as Error).message}\n`);
    return 1;
  }
  log('info', 'gateway store', { store: store.description, files: blobs.description });
  if (store.shared && blobs.local)
    log('warn', 'the Batch API files are in a local folder while replicas share the store: replicas on other machines cannot read them; give --files s3://bucket/prefix', { files: blobs.description });
  const owner = `gw-${hostname()}-${process.pid}-${randomHex(4)}`;
  const metrics = new GatewayMetrics();
  const billing = new Billing(store.ledger, await store.openAdmissions({ owner, staleMs: o['reconcile-after-ms'] }), metrics);
  const envKey = process.env[API_KEY_ENV];
  // The Batch API's jobs run through this gateway's own routes (created below).
  let app: ReturnType<typeof createGatewayApp> | null = null;
  const batchToken = randomHex(16);
  const { files, jobs } = await store.openBatches({ blobs, staleMs: o['reconcile-after-ms'] });
  const worker = new BatchWorker(jobs, files, sendThrough(() => app!, batchToken), o['batch-concurrency'], owner);
  const deps = {
    pool,
    keys: envKey ? new EnvKeyStore(store.keys, envKey) : store.keys,
    ledger: store.ledger,
    billing,
    limiter: new RateLimiter(store.counters ? { counters: store.counters } : {}),
    metrics,
    connectTimeoutMs: o['connect-timeout-ms'],
    nodeIdleTimeoutMs: o['node-idle-timeout-ms'],
    requestTimeoutMs: o['request-timeout-ms'],
    strictParams: values['strict-params'] ?? false,
    corsOrigins: o['cors-origins'],
    prices,
    playgroundModel: o['playground-model'] ?? null,
    batches: { files, jobs, worker, token: batchToken },
  };
  await pool.start();
  const discovery = o.discover
    ? new Ec2TagDiscovery({ ...o.discover, intervalMs: DISCOVERY_INTERVAL_MS, onNodes: (urls) => pool.setUrls(urls) })
    : null;
  try {
    await discovery?.start(); // before listening: the first answers already have nodes
  } catch (err) {
    process.stderr.write(
      `sirocco gateway: node discovery failed: ${(err as Error).message}\n` +
        'check AWS_REGION, the credentials (AWS_PROFILE or the instance role) and that they allow ec2:DescribeInstances\n',
    );
    pool.stop();
    return 1;
  }
  // Bills what a previous run (or a dead replica) left open, asking the nodes what they generated.
  const reconciler = startReconciler(billing, pool, prices, Math.max(1000, o['reconcile-after-ms'] / 2));
  const stopTracing = await startTracing('sirocco-gateway');
  app = createGatewayApp(deps);
  const { server } = await listen(app, o.host, o.port, 'gateway');
  worker.start();
  onSignals(async (signal) => {
    log('info', 'gateway stopping', { signal });
    discovery?.stop();
    await worker.stop(); // its job resumes at the next start
    pool.stop();
    await closeServer(server);
    reconciler.stop();
    await reconciler.idle();
    await store.close();
    await stopTracing();
    return 0;
  });
  return new Promise<number>(() => {}); // runs until a signal ends the process
}
