// The edge node's app, whatever runs it: the internal node API of `sirocco node` (node_app.ts:
// generate with streaming, live, ready, model, metrics, the shared secret) on the WASM engine,
// one thread, over a model from S3-compatible storage (MODEL_URI, verified chunk by chunk) or
// from bindings. edge_worker.ts serves it from workerd, lambda_handler.ts from AWS Lambda.
import type { Hono } from 'hono';
import { z } from 'zod';
import { KV_DTYPES, type KvDtype } from '../engine/native.ts';
import { createNodeApp } from '../node/node_app.ts';
import type { ServingHost } from '../node/node_host.ts';
import { DEFAULT_NODE_OPTIONS, NodeService } from '../node/node_service.ts';
import { PrometheusMeter } from '../telemetry/prometheus.ts';
import { loadEdgeModel } from './edge_model.ts';
import { fetchEdgeModel, type EdgeModelFiles } from './edge_s3_model.ts';

export type EdgeEnv = {
  SIROCCO_NODE_SECRET: string;
  MODEL_ID: string;
  // From S3: s3://bucket/prefix as `sirocco weights push` wrote it, with the AWS_* settings.
  MODEL_URI?: string;
  AWS_ENDPOINT_URL?: string;
  AWS_REGION?: string;
  AWS_ACCESS_KEY_ID?: string;
  AWS_SECRET_ACCESS_KEY?: string;
  AWS_SESSION_TOKEN?: string; // a role's (Lambda)
  // Else from bindings.
  MODEL_CONFIG?: string; // config.json
  MODEL_WEIGHTS?: ArrayBuffer; // model.safetensors
  MODEL_TOKENIZER?: string; // tokenizer.json
  MODEL_TOKENIZER_CONFIG?: string; // tokenizer_config.json
  MEMORY_LIMIT_MB?: string; // default 128, a Cloudflare Workers isolate's
  KV_CACHE_MB?: string; // default 16
  KV_DTYPE?: string; // f16 (default) | f32 | q8_0 (1.8× the context in the same KV_CACHE_MB)
};

// A KV_DTYPE binding, checked: a misspelt one would otherwise fall back without a word.
function kvDtypeOf(env: EdgeEnv): KvDtype | undefined {
  if (env.KV_DTYPE === undefined) return undefined;
  const parsed = z.enum(KV_DTYPES).safeParse(env.KV_DTYPE);
  if (!parsed.success) throw new Error(`KV_DTYPE ${JSON.stringify(env.KV_DTYPE)}: expected one of ${KV_DTYPES.join(', ')}`);
  return parsed.data;
}

class EdgeHost implements ServingHost {
  readonly metrics = new PrometheusMeter('sirocco-edge-node');
  service: NodeService | null = null;
  readonly draining = false;
  failure: string | undefined;
  get ready(): boolean {
    return this.service !== null;
  }
}

function modelFiles(env: EdgeEnv): Promise<EdgeModelFiles> {
  if (env.MODEL_URI) {
    if (!env.AWS_ACCESS_KEY_ID || !env.AWS_SECRET_ACCESS_KEY) throw new Error(`${env.MODEL_URI}: set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY`);
    return fetchEdgeModel({
      uri: env.MODEL_URI,
      endpoint: env.AWS_ENDPOINT_URL,
      region: env.AWS_REGION,
      credentials: { accessKeyId: env.AWS_ACCESS_KEY_ID, secretAccessKey: env.AWS_SECRET_ACCESS_KEY, sessionToken: env.AWS_SESSION_TOKEN },
    });
  }
  if (!env.MODEL_CONFIG || !env.MODEL_WEIGHTS || !env.MODEL_TOKENIZER) throw new Error('no model: bind MODEL_URI (s3://…) or MODEL_CONFIG, MODEL_WEIGHTS and MODEL_TOKENIZER');
  return Promise.resolve({ config: env.MODEL_CONFIG, weights: env.MODEL_WEIGHTS, tokenizer: env.MODEL_TOKENIZER, tokenizerConfig: env.MODEL_TOKENIZER_CONFIG ?? null });
}

// The app over a host whose model starts loading now; requests are answered meanwhile as by a
// loading node (not ready, 503), and readiness says why if the load fails.
export function startEdgeNode(env: EdgeEnv, engineModule: WebAssembly.Module): { app: Hono; loading: Promise<void> } {
  const host = new EdgeHost();
  const app = createNodeApp(host, env.SIROCCO_NODE_SECRET, { maxQueue: 64 });
  const loading = (async () => {
    const files = await modelFiles(env);
    const { engine, kvMaxBlocks } = await loadEdgeModel(files, engineModule, {
      memoryLimitBytes: Number(env.MEMORY_LIMIT_MB ?? 128) * 2 ** 20,
      kvCacheBytes: Number(env.KV_CACHE_MB ?? 16) * 2 ** 20,
      kvDtype: kvDtypeOf(env),
    });
    const tokenizer = { tokenizer: JSON.parse(files.tokenizer) as unknown, config: files.tokenizerConfig ? (JSON.parse(files.tokenizerConfig) as unknown) : null };
    host.service = await NodeService.create(engine, tokenizer, { ...DEFAULT_NODE_OPTIONS, maxSequences: 4, modelId: env.MODEL_ID, kvMaxBlocks, metrics: host.metrics });
  })().catch((err: Error) => {
    host.failure = `cannot load ${env.MODEL_ID}: ${err.message}`;
    console.error(`sirocco edge node: cannot load ${env.MODEL_ID}: ${err.message}`);
  });
  return { app, loading };
}

