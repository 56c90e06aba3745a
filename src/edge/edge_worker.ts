// The edge node: one ES module with a fetch handler, for workerd (Cloudflare Workers' runtime)
// and runtimes like it. It serves the internal node API of `sirocco node` (node_app.ts: generate
// with streaming, live, ready, model, metrics, the shared secret) on the WASM engine, one
// thread, so a gateway routes to it like to any node. The model comes from S3-compatible
// storage (MODEL_URI, verified chunk by chunk) or from bindings; it loads on the first request
// (a worker cannot wait at startup) and readiness reports it.
import { Hono } from 'hono';
import { createNodeApp } from '../node/node_app.ts';
import type { ServingHost } from '../node/node_host.ts';
import { DEFAULT_NODE_OPTIONS, NodeService } from '../node/node_service.ts';
import { PrometheusMeter } from '../telemetry/prometheus.ts';
import { loadEdgeModel } from './edge_model.ts';
import { fetchEdgeModel, type EdgeModelFiles } from './edge_s3_model.ts';
import engineModule from './sirocco.wasm';

export type EdgeEnv = {
  SIROCCO_NODE_SECRET: string;
  MODEL_ID: string;
  // From S3: s3://bucket/prefix as `sirocco weights push` wrote it, with the AWS_* settings.
  MODEL_URI?: string;
  AWS_ENDPOINT_URL?: string;
  AWS_REGION?: string;
  AWS_ACCESS_KEY_ID?: string;
  AWS_SECRET_ACCESS_KEY?: string;
  // Else from bindings.
  MODEL_CONFIG?: string; // config.json
  MODEL_WEIGHTS?: ArrayBuffer; // model.safetensors
  MODEL_TOKENIZER?: string; // tokenizer.json
  MODEL_TOKENIZER_CONFIG?: string; // tokenizer_config.json
  MEMORY_LIMIT_MB?: string; // default 128, a Cloudflare Workers isolate's
  KV_CACHE_MB?: string; // default 16
};

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
    return fetchEdgeModel({ uri: env.MODEL_URI, endpoint: env.AWS_ENDPOINT_URL, region: env.AWS_REGION, accessKeyId: env.AWS_ACCESS_KEY_ID, secretAccessKey: env.AWS_SECRET_ACCESS_KEY });
  }
  if (!env.MODEL_CONFIG || !env.MODEL_WEIGHTS || !env.MODEL_TOKENIZER) throw new Error('no model: bind MODEL_URI (s3://…) or MODEL_CONFIG, MODEL_WEIGHTS and MODEL_TOKENIZER');
  return Promise.resolve({ config: env.MODEL_CONFIG, weights: env.MODEL_WEIGHTS, tokenizer: env.MODEL_TOKENIZER, tokenizerConfig: env.MODEL_TOKENIZER_CONFIG ?? null });
}

let started: { app: Hono; host: EdgeHost; loading: Promise<void> } | null = null;

function start(env: EdgeEnv) {
  const host = new EdgeHost();
  const app = createNodeApp(host, env.SIROCCO_NODE_SECRET, { maxQueue: 64 });
  const loading = (async () => {
    const files = await modelFiles(env);
    const { engine, kvMaxBlocks } = await loadEdgeModel(files, engineModule, {
      memoryLimitBytes: Number(env.MEMORY_LIMIT_MB ?? 128) * 2 ** 20,
      kvCacheBytes: Number(env.KV_CACHE_MB ?? 16) * 2 ** 20,
    });
    const tokenizer = { tokenizer: JSON.parse(files.tokenizer) as unknown, config: files.tokenizerConfig ? (JSON.parse(files.tokenizerConfig) as unknown) : null };
    host.service = await NodeService.create(engine, tokenizer, { ...DEFAULT_NODE_OPTIONS, maxSequences: 4, modelId: env.MODEL_ID, kvMaxBlocks, metrics: host.metrics });
  })().catch((err: Error) => {
    host.failure = `cannot load ${env.MODEL_ID}: ${err.message}`;
    console.error(`sirocco edge node: cannot load ${env.MODEL_ID}: ${err.message}`);
  });
  return { app, host, loading };
}

export default {
  async fetch(request: Request, env: EdgeEnv, ctx: { waitUntil(p: Promise<unknown>): void }): Promise<Response> {
    if (!started) {
      started = start(env);
      // The load outlives the request that began it; until it ends the node answers as a
      // loading node does (not ready, 503), and after a failure says why in readiness.
      ctx.waitUntil(started.loading);
    }
    return started.app.fetch(request, env, ctx as never);
  },
};
