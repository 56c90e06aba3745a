// The node's SSE answer to one generate call. Under @hono/node-server the events go straight
// to the Node response: written as they come, no web streams in between (those cost more CPU
// per request than the engine step of a small model). Elsewhere (in-process tests through
// app.request) Hono's streamSSE carries the same events.
import type { ServerResponse } from 'node:http';
import { RESPONSE_ALREADY_SENT } from '@hono/node-server/utils/response';
import type { Context } from 'hono';
import { streamSSE } from 'hono/streaming';

const HEARTBEAT_MS = 5000;

export interface EventSink {
  send(event: string, data: object): void;
  /** After the last event. */
  end(): void;
}

/**
 * Answers `c` with an event stream; `run` starts the work, sends through the sink, and gets
 * `onClose` to register what to do when the client goes away first.
 */
export function eventStream(c: Context, run: (sink: EventSink, onClose: (abort: () => void) => void) => void): Response | Promise<Response> {
  const outgoing = (c.env as { outgoing?: ServerResponse } | undefined)?.outgoing;
  if (outgoing) {
    outgoing.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache', connection: 'keep-alive' });
    let ended = false;
    // A comment line now and then while nothing else is sent (a long prefill): the gateway
    // abandons a node stream that stays silent (its --node-idle-timeout-ms).
    const heartbeat = setInterval(() => outgoing.destroyed || outgoing.write(':\n\n'), HEARTBEAT_MS);
    const sink: EventSink = {
      send: (event, data) => {
        if (!ended && !outgoing.destroyed) outgoing.write(`event: ${event}\ndata: ${JSON.stringify(data)}\n\n`);
      },
      end: () => {
        ended = true;
        clearInterval(heartbeat);
        outgoing.end();
      },
    };
    outgoing.once('close', () => clearInterval(heartbeat));
    run(sink, (abort) => outgoing.once('close', () => !ended && abort()));
    return RESPONSE_ALREADY_SENT;
  }
  return streamSSE(c, async (stream) => {
    // Events are queued by the callbacks and written here in order.
    const queue: { event: string; data: string }[] = [];
    let wake: () => void = () => {};
    let ended = false;
    const sink: EventSink = {
      send: (event, data) => {
        queue.push({ event, data: JSON.stringify(data) });
        wake();
      },
      end: () => {
        ended = true;
        wake();
      },
    };
    let abort = () => {};
    run(sink, (a) => (abort = a));
    stream.onAbort(() => {
      abort();
      ended = true;
      wake();
    });
    for (;;) {
      while (queue.length > 0) await stream.writeSSE(queue.shift()!);
      if (ended || stream.aborted) break;
      await new Promise<void>((r) => (wake = r));
    }
    while (queue.length > 0 && !stream.aborted) await stream.writeSSE(queue.shift()!);
  });
}
