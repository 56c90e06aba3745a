// Calls a node's generate endpoint and turns its SSE stream into typed events. A failure
// before the first event is reported as NodeUnavailable (the caller may try another node);
// after it, as a NodeStreamError (the client has already seen output from this node).
import { createParser } from 'eventsource-parser';
import { DoneEvent, ErrorEvent, TokenEvent, type GenerateBody } from '../protocol/internal_api.ts';

export class NodeUnavailable extends Error {}
export class NodeStreamError extends Error {}
// The node refused the request itself (4xx): another node would refuse it too.
export class NodeRejected extends Error {}

// restart: the choice starts over on another node; forget what it produced so far.
export type NodeEvent = { type: 'token'; token: TokenEvent } | { type: 'done'; done: DoneEvent } | { type: 'restart' };

export async function* generateOnNode(
  url: string,
  headers: Record<string, string>,
  body: GenerateBody,
  signal: AbortSignal,
  connectTimeoutMs: number,
): AsyncGenerator<NodeEvent> {
  let res: Response;
  // The timeout bounds the wait for response headers only; the stream itself may run long.
  const connect = new AbortController();
  const timer = setTimeout(() => connect.abort(new Error('no response in time')), connectTimeoutMs);
  try {
    res = await fetch(`${url}/internal/v1/generate`, {
      method: 'POST',
      headers: { ...headers, 'content-type': 'application/json', accept: 'text/event-stream' },
      body: JSON.stringify(body),
      signal: AbortSignal.any([signal, connect.signal]),
    });
  } catch (err) {
    if (signal.aborted) throw err;
    throw new NodeUnavailable(`node ${url} unreachable: ${(err as Error).message}`);
  } finally {
    clearTimeout(timer);
  }
  if (res.status >= 400 && res.status < 500) throw new NodeRejected(`node ${url} refused the request: ${await res.text()}`);
  if (!res.ok || !res.body) throw new NodeUnavailable(`node ${url} answered ${res.status}`);

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
  try {
    for await (const chunk of res.body) {
      parser.feed(decoder.decode(chunk as Uint8Array, { stream: true }));
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
  }
  if (done) return;
  const message = `node ${url} stream ended early${failure ? `: ${failure}` : ''}`;
  throw seenAny ? new NodeStreamError(message) : new NodeUnavailable(message);
}
