// `sirocco node --model DIR`: an inference node serving the internal API to gateways.
import { parseArgs } from 'node:util';
import { z } from 'zod';
import { DEFAULT_KV_DTYPE, KV_DTYPES } from '../engine/native.ts';
import { createNodeApp } from '../node/node_app.ts';
import { NodeHost } from '../node/node_host.ts';
import { DEFAULT_NODE_OPTIONS } from '../node/node_service.ts';
import { log } from '../telemetry/log.ts';
import { startTracing } from '../telemetry/tracing.ts';
import { describeNonFinite, scanNonFinite } from '../weights/finite_scan.ts';
import { NodeOptions, positiveCount } from './node_options.ts';
import { closeServer, listen, onSignals } from './serve.ts';

const USAGE = `usage: sirocco node --model DIR|s3://bucket/prefix|hf:org/name [--port 8081] [--host 127.0.0.1]
                    [--model-id ID] [--backend native|wasm] [--threads N] [--weights-in memory|mmap] [--check-finite] [--tp N]
                    [--moe-split columns|experts] [--kv-dtype f16|f32|q8_0] [--max-batch-tokens 256]
                    [--max-sequences 16] [--max-queue 256] [--kv-cache-mb 1024] [--drain-timeout 30]
  --backend B     native (default: the C++ addon) or wasm (the same engine in WebAssembly, one
                  thread, one shard: for machines without the native build; each step runs on
                  the node's event loop)
  --threads N     the engine's threads (default: every core). The engine runs each decode
                  step while the node streams the last one, faster still where a core is
                  left to the node's JavaScript (the default model on 2 cores: 1 thread
                  1.25× the tokens/s of not running ahead, 2 threads 1.05–1.22×)
  --weights-in W  memory (default): read the weights into the process — faster decode on
                  most machines, and a model file changed or truncated on disk cannot crash
                  the node; mmap: map the files (instant load, shares the page cache)
  --check-finite  read every tensor before loading and refuse weights holding NaN or Inf,
                  naming them (a local DIR only)
  --tp N          split the model into N tensor-parallel shards (N must divide the KV heads)
  --moe-split S   MoE under --tp: 'columns' (default) or 'experts' (see README)
  --kv-dtype D    K/V cache storage: f16 (default, half of f32's memory), f32, or q8_0
                  (int8 blocks of 32 with a scale: 56% of f16's memory, 1.8× the context)
The shared secret gateways must send comes from SIROCCO_NODE_SECRET (at least 16 characters).
`;

const count = positiveCount;
const Options = NodeOptions.extend({
  backend: z.enum(['native', 'wasm']).default('native'),
  threads: count('threads').optional(),
  'weights-in': z.enum(['mmap', 'memory']).default('memory'),
  'check-finite': z.boolean().default(false),
  tp: count('tp').default(1),
  'moe-split': z.enum(['columns', 'experts']).default('columns'),
  'kv-dtype': z.enum(KV_DTYPES).default(DEFAULT_KV_DTYPE),
  'max-batch-tokens': count('max-batch-tokens').default(DEFAULT_NODE_OPTIONS.maxBatchTokens),
  'max-sequences': count('max-sequences').default(DEFAULT_NODE_OPTIONS.maxSequences),
  'max-queue': z.coerce.number().int().min(0).default(256),
  'max-warm-sessions': z.coerce.number().int().min(0).default(DEFAULT_NODE_OPTIONS.maxWarmSessions),
  'kv-cache-mb': count('kv-cache-mb').default(DEFAULT_NODE_OPTIONS.kvCacheBytes / 2 ** 20),
  'drain-timeout': z.coerce.number().positive().default(30),
});

export async function runNode(argv: string[]): Promise<number> {
  let values;
  try {
    values = parseArgs({
      args: argv,
      options: {
        ...Object.fromEntries(
          ['model', 'port', 'host', 'model-id', 'backend', 'threads', 'weights-in', 'tp', 'moe-split', 'kv-dtype', 'max-batch-tokens', 'max-sequences', 'max-queue', 'max-warm-sessions', 'kv-cache-mb', 'drain-timeout'].map((k) => [k, { type: 'string' as const }]),
        ),
        'check-finite': { type: 'boolean' },
        help: { type: 'boolean', short: 'h' },
      },
    }).values;
  } catch (err) {
    process.stderr.write(`sirocco node: ${(err as Error).message}\n\n${USAGE}`);
    return 1;
  }
  if (values.help) {
    process.stdout.write(USAGE);
    return 0;
  }
  const parsed = Options.safeParse({ ...values, secret: process.env.SIROCCO_NODE_SECRET });
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    process.stderr.write(`sirocco node: ${issue.path[0] === 'secret' ? '' : `--${String(issue.path[0])}: `}${issue.message}\n\n${USAGE}`);
    return 1;
  }
  const o = parsed.data;
  if (o['check-finite']) {
    if (/^(s3|hf):/.test(o.model)) {
      process.stderr.write(`sirocco node: --check-finite reads a local DIR: 'sirocco weights pull' the model first\n`);
      return 1;
    }
    const scan = await scanNonFinite(o.model);
    if (scan.nonFinite.length > 0) {
      process.stderr.write(`sirocco node: ${o.model} has non-finite weights, not loading it:\n${describeNonFinite(scan.nonFinite)}\n`);
      return 1;
    }
  }
  // Listen first (not ready) so readiness and download progress can be scraped while the model
  // is fetched, verified and loaded.
  const host = new NodeHost(o.model);
  const stopTracing = await startTracing('sirocco-node');
  const { server, url } = await listen(createNodeApp(host, o.secret, { maxQueue: o['max-queue'] }), o.host, o.port, 'node');
  onSignals(async (signal) => {
    log('info', 'node draining', { signal });
    const finished = await host.drain(o['drain-timeout'] * 1000);
    log(finished ? 'info' : 'warn', finished ? 'node drained' : 'drain timed out; stopping with requests in flight');
    await closeServer(server);
    await stopTracing();
    return 0;
  });
  try {
    await host.load({
      modelDir: o.model,
      modelId: o['model-id'],
      backend: o.backend,
      threads: o.threads,
      weightsIn: o['weights-in'],
      tp: o.tp,
      moeSplit: o['moe-split'],
      kvDtype: o['kv-dtype'],
      maxBatchTokens: o['max-batch-tokens'],
      maxSequences: o['max-sequences'],
      maxWarmSessions: o['max-warm-sessions'],
      kvCacheBytes: o['kv-cache-mb'] * 2 ** 20,
    });
  } catch (err) {
    await closeServer(server);
    throw err; // main() prints it and exits 1: a node that cannot load never turns ready
  }
  process.stdout.write(JSON.stringify({ event: 'ready', service: 'node', url }) + '\n');
  log('info', 'node ready', { url, model: host.service!.info.id });
  return new Promise<number>(() => {}); // runs until a signal ends the process
}
