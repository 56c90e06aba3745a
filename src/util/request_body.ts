// The bytes of a request body. Under @hono/node-server (whose bindings reach the app as its
// env, see cli/serve.ts listen) the Node request itself: reading it skips the web-stream copy,
// a measurable share of the CPU per request. Elsewhere (in-process app.request) the web body.
import type { Context } from 'hono';

export function requestBody(c: Context): AsyncIterable<Uint8Array> | null {
  const incoming = (c.env as { incoming?: AsyncIterable<Uint8Array> } | undefined)?.incoming;
  return incoming ?? (c.req.raw.body as unknown as AsyncIterable<Uint8Array> | null);
}
