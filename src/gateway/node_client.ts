// Calls a node's generate endpoint and turns its SSE stream into typed events. A failure
// before the first event is reported as NodeUnavailable (the caller may try another node);
// after it, as a NodeStreamError (the client has already seen output from this node).
import http from 'node:http';
import https from 'node:https';
import { SpanKind, SpanStatusCode } from '@opentelemetry/api';
import { createParser } from 'eventsource-parser';
import { DoneEvent, ErrorEvent, TokenEvent, type GenerateBody } from '../protocol/internal_api.ts';
import { REQUEST_ID_ATTRIBUTE, traceHeaders, tracer } from '../telemetry/tracing.ts';

export class NodeUnavailable extends Error {}
// The node is up but its queue is full (503 with Retry-After): try another, do not eject it.
export class NodeBusy extends Error {}
export class NodeStreamError extends Error {}
// The node refused the request itself (4xx): another node would refuse it too. `message` is
// the node's reason, fit for the client; `detail` (with the node's address) is for logs only.
export class NodeRejected extends Error {
  constructor(
    message: string,
    readonly detail: string,
  ) {
    super(message);
  }
}

// A node's 4xx body is {"error": "…"}; anything else is not shown to clients.
function reasonOf(body: string): string {
  try {
    const error = (JSON.parse(body) as { error?: unknown }).error;
    if (typeof error === 'string' && error.length > 0) return error.slice(0, 500);
  } catch {
    // not JSON
  }
  return 'the inference node refused the request';
}

// restart: the choice starts over on another node; forget what it produced so far.
export type NodeTimeouts = { connectMs: number; idleMs: number };

export type NodeEvent = { type: 'token'; token: TokenEvent } | { type: 'done'; done: DoneEvent } | { type: 'restart' };

// One pool of keep-alive connections per protocol. node:http rather than fetch: fetch's web
// streams cost the gateway more CPU per request than the whole rest of its work.
const agents = { 'http:': new http.Agent({ keepAlive: true, maxSockets: 512 }), 'https:': new https.Agent({ keepAlive: true, maxSockets: 512 }) };

// POSTs `payload`; resolves with the response once its headers arrive (within timeoutMs).
function post(url: URL, headers: Record<string, string>, payload: string, signal: AbortSignal, timeoutMs: number): Promise<http.IncomingMessage> {
  return new Promise((resolve, reject) => {
    const send = url.protocol === 'https:' ? https.request : http.request;
    const agent = url.protocol === 'https:' ? agents['https:'] : agents['http:'];
    const req = send(url, { method: 'POST', agent, signal, headers: { ...headers, 'content-length': Buffer.byteLength(payload) } });
    const timer = setTimeout(() => req.destroy(new Error('no response in time')), timeoutMs);
    req.once('response', (res) => {
      clearTimeout(timer);
      resolve(res);
    });
    req.once('error', (err) => {
      clearTimeout(timer);
      reject(err);
    });
    req.end(payload);
  });
}

async function textOf(res: http.IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of res) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}

export async function* generateOnNode(
  url: string,
  headers: Record<string, string>,
  body: GenerateBody,
  signal: AbortSignal,
  timeouts: NodeTimeouts,
): AsyncGenerator<NodeEvent> {
  const span = tracer().startSpan('node.generate', { kind: SpanKind.CLIENT, attributes: { [REQUEST_ID_ATTRIBUTE]: body.request_id, 'server.address': url } });
  try {
    yield* streamFromNode(url, { ...headers, ...traceHeaders(span) }, body, signal, timeouts);
  } catch (err) {
    span.setStatus({ code: SpanStatusCode.ERROR, message: (err as Error).message });
    throw err;
  } finally {
    span.end();
  }
}

async function* streamFromNode(url: string, headers: Record<string, string>, body: GenerateBody, signal: AbortSignal, timeouts: NodeTimeouts): AsyncGenerator<NodeEvent> {
  let res: http.IncomingMessage;
  // connectMs bounds the wait for response headers; after them, idleMs the silence between
  // two chunks (the node sends a heartbeat while it prefills), so a stream may run long but a
  // hung node (SIGSTOP, a dead link) is abandoned within idleMs.
  try {
    res = await post(new URL(`${url}/internal/v1/generate`), { ...headers, 'content-type': 'application/json', accept: 'text/event-stream' }, JSON.stringify(body), signal, timeouts.connectMs);
  } catch (err) {
    if (signal.aborted) throw err;
    throw new NodeUnavailable(`node ${url} unreachable: ${(err as Error).message}`);
  }
  const status = res.statusCode ?? 0;
  if (status >= 400 && status < 500) throw new NodeRejected(reasonOf(await textOf(res)), `node ${url} answered ${status}`);
  if (status === 503 && res.headers['retry-after'] !== undefined) {
    res.resume();
    throw new NodeBusy(`node ${url} is busy`);
  }
  if (status < 200 || status >= 300) {
    res.resume();
    throw new NodeUnavailable(`node ${url} answered ${status}`);
  }

  const events: NodeEvent[] = [];
  let failure: string | null = null;
  const parser = createParser({
    onEvent: (e) => {
      if (e.event === 'token') events.push({ type: 'token', token: TokenEvent.parse(JSON.parse(e.data)) });
      else if (e.event === 'done') events.push({ type: 'done', done: DoneEvent.parse(JSON.parse(e.data)) });
      else if (e.event === 'error') failure = ErrorEvent.parse(JSON.parse(e.data)).message;
    },
  });
  let seenAny = false;
  let done = false;
  const decoder = new TextDecoder();
  let idle: NodeJS.Timeout | null = null;
  const watch = () => {
    if (idle) clearTimeout(idle);
    idle = setTimeout(() => res.destroy(new Error(`the node sent nothing for ${timeouts.idleMs} ms`)), timeouts.idleMs);
  };
  watch();
  try {
    for await (const chunk of res) {
      watch();
      parser.feed(decoder.decode(chunk as Buffer, { stream: true }));
      for (const e of events.splice(0)) {
        seenAny = true;
        done ||= e.type === 'done';
        yield e;
      }
      if (failure !== null) break;
    }
  } catch (err) {
    if (signal.aborted) throw err;
    failure = (err as Error).message;
  } finally {
    if (idle) clearTimeout(idle);
  }
  if (done) return;
  const message = `node ${url} stream ended early${failure ? `: ${failure}` : ''}`;
  throw seenAny ? new NodeStreamError(message) : new NodeUnavailable(message);
}
