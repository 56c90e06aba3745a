// The edge node for workerd (Cloudflare Workers' runtime) and runtimes like it: one ES module
// with a fetch handler serving edge_app.ts. The model loads on the first request (a worker
// cannot wait at startup), and the load outlives that request.
import type { Hono } from 'hono';
import { startEdgeNode, type EdgeEnv } from './edge_app.ts';
import engineModule from './sirocco.wasm';

let started: { app: Hono; loading: Promise<void> } | null = null;

export default {
  async fetch(request: Request, env: EdgeEnv, ctx: { waitUntil(p: Promise<unknown>): void }): Promise<Response> {
    if (!started) {
      started = startEdgeNode(env, engineModule);
      ctx.waitUntil(started.loading);
    }
    return started.app.fetch(request, env, ctx as never);
  },
};
