// The edge node: one ES module with a fetch handler, for workerd (Cloudflare Workers' runtime)
// and runtimes like it. It serves the internal node API of `sirocco node` (node_app.ts: generate
// with streaming, live, ready, model, metrics, the shared secret) on the WASM engine, one
// thread, so a gateway routes to it like to any node. The model comes from bindings; it loads
// on the first request (a worker cannot wait at startup), which readiness reports.
import { Hono } from 'hono';
import { createNodeApp } from '../node/node_app.ts';
import type { ServingHost } from '../node/node_host.ts';
import { DEFAULT_NODE_OPTIONS, NodeService } from '../node/node_service.ts';
import { PrometheusMeter } from '../telemetry/prometheus.ts';
import { loadEdgeModel } from './edge_model.ts';
import engineModule from './sirocco.wasm';

export type EdgeEnv = {
  SIROCCO_NODE_SECRET: string;
  MODEL_ID: string;
  MODEL_CONFIG: string; // config.json
  MODEL_WEIGHTS: ArrayBuffer; // model.safetensors
  MODEL_TOKENIZER: string; // tokenizer.json
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

let started: { app: Hono; host: EdgeHost; loading: Promise<void> } | null = null;

function start(env: EdgeEnv) {
  const host = new EdgeHost();
  const app = createNodeApp(host, env.SIROCCO_NODE_SECRET, { maxQueue: 64 });
  const loading = (async () => {
    const { engine, kvMaxBlocks } = await loadEdgeModel({ config: env.MODEL_CONFIG, weights: env.MODEL_WEIGHTS }, engineModule, {
      memoryLimitBytes: Number(env.MEMORY_LIMIT_MB ?? 128) * 2 ** 20,
      kvCacheBytes: Number(env.KV_CACHE_MB ?? 16) * 2 ** 20,
    });
    const tokenizer = { tokenizer: JSON.parse(env.MODEL_TOKENIZER) as unknown, config: env.MODEL_TOKENIZER_CONFIG ? (JSON.parse(env.MODEL_TOKENIZER_CONFIG) as unknown) : null };
    host.service = await NodeService.create(engine, tokenizer, { ...DEFAULT_NODE_OPTIONS, maxSequences: 4, modelId: env.MODEL_ID, kvMaxBlocks, metrics: host.metrics });
  })().catch((err: Error) => {
    host.failure = `cannot load ${env.MODEL_ID}: ${err.message}`;
    console.error(`sirocco edge node: cannot load ${env.MODEL_ID}: ${err.message}`);
  });
  return { app, host, loading };
}

export default {
  async fetch(request: Request, env: EdgeEnv, ctx: { waitUntil(p: Promise<unknown>): void }): Promise<Response> {
    started ??= start(env);
    // The first requests wait for the model; one that failed to load leaves the node unready
    // (its message in the worker's log).
    await started.loading;
    return started.app.fetch(request, env, ctx as never);
  },
};
