// `sirocco edge-node --model DIR`: the edge node (src/edge/) in workerd, Cloudflare Workers'
// open-source runtime, on this machine: bundle it, embed the model as bindings, serve, and
// announce the URL once the model answers (as `sirocco node` does) — a gateway routes to it like
// to any node.
import { spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { z } from 'zod';
import { ReadyStatus, NODE_SECRET_HEADER } from '../protocol/internal_api.ts';
import { packageLambda } from '../edge/bundle_lambda.ts';
import { bundleEdgeNode, writeWorkerdConfig } from '../edge/bundle_workerd.ts';
import { DEFAULT_KV_DTYPE, KV_DTYPES } from '../engine/native.ts';
import { modelNameOf } from '../weights/model_uri.ts';
import { NodeOptions, positiveCount } from './node_options.ts';
import { onSignals } from './serve.ts';

const USAGE = `usage: sirocco edge-node --model DIR|s3://bucket/prefix [--port 8081] [--host 127.0.0.1] [--model-id ID]
                         [--kv-cache-mb 16] [--kv-dtype f16|f32|q8_0] [--memory-limit-mb 128] [--out DIR]
       sirocco edge-node --lambda-package FILE.zip
Serves the internal node API from workerd (the edge runtime) on the WASM engine, one thread.
The model (Hugging Face layout, one safetensors file) is embedded as bindings, or fetched by the
worker from S3 as \`sirocco weights push\` stored it (every chunk checked against the manifest),
with AWS_ENDPOINT_URL, AWS_REGION, AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY from the environment.
  --kv-dtype D         K/V cache storage: f16 (default), f32, or q8_0 (1.8× f16's context in the
                       same --kv-cache-mb; head_dim a multiple of 32)
  --memory-limit-mb M  the isolate's memory (default 128, a Cloudflare Workers isolate's): a
                       model that cannot fit is refused with its size (quantize it first:
                       sirocco weights quantize DIR --to q4_0 --out DIR2)
  --out DIR            where the bundle and workerd config go (default: a temporary folder)
  --lambda-package F   write the AWS Lambda package of the edge node (infra/modules/edge_lambda)
                       to F and exit
The shared secret gateways must send comes from SIROCCO_NODE_SECRET (at least 16 characters).
`;

const Options = NodeOptions.extend({
  'kv-cache-mb': positiveCount('kv-cache-mb').default(16),
  'kv-dtype': z.enum(KV_DTYPES).default(DEFAULT_KV_DTYPE),
  'memory-limit-mb': positiveCount('memory-limit-mb').default(128),
  out: z.string().min(1).optional(),
});

// The workerd package (CommonJS) exports the path of the runtime's binary for this platform.
const workerdBinary = () => (createRequire(import.meta.url)('workerd') as { default: string }).default;

// workerd needs a concrete port: port 0 asks the system for a free one first.
function freePort(host: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, host, () => {
      const { port } = s.address() as { port: number };
      s.close(() => resolve(port));
    });
  });
}

export async function runEdgeNode(argv: string[]): Promise<number> {
  let values;
  try {
    values = parseArgs({
      args: argv,
      options: {
        ...Object.fromEntries(['model', 'port', 'host', 'model-id', 'kv-cache-mb', 'kv-dtype', 'memory-limit-mb', 'out', 'lambda-package'].map((k) => [k, { type: 'string' as const }])),
        help: { type: 'boolean', short: 'h' },
      },
    }).values;
  } catch (err) {
    process.stderr.write(`sirocco edge-node: ${(err as Error).message}\n\n${USAGE}`);
    return 1;
  }
  if (values.help) {
    process.stdout.write(USAGE);
    return 0;
  }
  const lambdaPackage = (values as Record<string, string | undefined>)['lambda-package'];
  if (lambdaPackage) {
    try {
      const bytes = await packageLambda(lambdaPackage);
      process.stdout.write(`${lambdaPackage}: the edge node for AWS Lambda, ${(bytes / 1e6).toFixed(2)} MB\n`);
      return 0;
    } catch (err) {
      process.stderr.write(`sirocco edge-node: ${(err as Error).message}\n`);
      return 1;
    }
  }
  const parsed = Options.safeParse({ ...values, secret: process.env.SIROCCO_NODE_SECRET });
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    process.stderr.write(`sirocco edge-node: ${issue.path[0] === 'secret' ? '' : `--${String(issue.path[0])}: `}${issue.message}\n\n${USAGE}`);
    return 1;
  }
  const o = parsed.data;
  const out = o.out ?? (await mkdtemp(join(tmpdir(), 'sirocco-edge-')));
  let config: string;
  try {
    const { bundleBytes, wasmBytes } = await bundleEdgeNode(out);
    process.stderr.write(`edge node bundle: worker.mjs ${(bundleBytes / 1e6).toFixed(2)} MB + sirocco.wasm ${(wasmBytes / 1e6).toFixed(2)} MB in ${out}\n`);
    const port = o.port === 0 ? await freePort(o.host) : o.port;
    config = await writeWorkerdConfig(out, { model: o.model, modelId: o['model-id'] ?? modelNameOf(o.model), address: `${o.host}:${port}`, kvCacheMb: o['kv-cache-mb'], kvDtype: o['kv-dtype'], memoryLimitMb: o['memory-limit-mb'] });
    o.port = port;
  } catch (err) {
    process.stderr.write(`sirocco edge-node: ${(err as Error).message}\n`);
    return 1;
  }
  const child = spawn(workerdBinary(), ['serve', config], { cwd: out, env: { ...process.env, SIROCCO_NODE_SECRET: o.secret }, stdio: ['ignore', 'inherit', 'inherit'] });
  let ended: string | null = null; // why workerd is gone
  const exited = new Promise<number>((resolve) => {
    child.once('exit', (code) => {
      ended ??= `workerd exited with code ${code} (see the log above)`;
      resolve(code ?? 1);
    });
    // No binary for this platform (workerd ships linux/darwin/windows x64 and arm64 builds).
    child.once('error', (err) => {
      ended = `cannot start workerd: ${err.message}`;
      resolve(1);
    });
  });
  const cleanup = async () => {
    if (ended === null) child.kill('SIGTERM');
    await exited;
    if (!o.out) await rm(out, { recursive: true, force: true });
  };
  onSignals(async () => {
    await cleanup();
    return 0;
  });
  // Ready once the worker has loaded the model (its first request starts the load); a load that
  // failed says why in readiness. Two minutes at most.
  const url = `http://${o.host}:${o.port}`;
  let failure = 'not ready after 2 minutes';
  for (const started = Date.now(); Date.now() - started < 120_000; await new Promise((r) => setTimeout(r, 100))) {
    if (ended !== null) break;
    const res = await fetch(`${url}/internal/v1/ready`, { headers: { [NODE_SECRET_HEADER]: o.secret } }).catch(() => null);
    if (!res) continue;
    const status = ReadyStatus.parse(await res.json());
    if (status.ready) {
      process.stdout.write(JSON.stringify({ event: 'ready', service: 'node', url }) + '\n');
      const code = await exited;
      await cleanup();
      return code;
    }
    if (status.error) {
      failure = status.error;
      break;
    }
  }
  if (ended !== null) failure = ended;
  process.stderr.write(`sirocco edge-node: the edge node did not become ready: ${failure}\n`);
  await cleanup();
  return 1;
}
