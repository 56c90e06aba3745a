// Runs one choice of a request on the nodes, best node first. A node that fails before this
// choice has delivered anything to the client is skipped for the next one (with a 'restart'
// event if it had produced tokens); once output was delivered the failure is final: the
// client cannot be handed a second, different beginning.
import type { GenerateBody } from '../protocol/internal_api.ts';
import { log } from '../telemetry/log.ts';
import { generateOnNode, NodeBusy, NodeStreamError, NodeUnavailable, type NodeEvent, type NodeTimeouts } from './node_client.ts';
import type { NodePool } from './node_pool.ts';

export type ChoiceAttempt = { node: string | null };

export class NoNodeAvailable extends Error {
  /** Every node that serves the model answered busy: overload, not an outage. */
  constructor(
    message: string,
    readonly busy = false,
  ) {
    super(message);
  }
}

export async function* runChoice(
  pool: NodePool,
  model: string,
  sessionKey: string,
  body: GenerateBody,
  signal: AbortSignal,
  delivered: () => boolean, // true once any of this choice's output reached the client
  attempt: ChoiceAttempt,
  timeouts: NodeTimeouts,
): AsyncGenerator<NodeEvent> {
  const tried = new Set<string>();
  let busy = 0;
  for (;;) {
    const url = pool.route(model, sessionKey).find((u) => !tried.has(u));
    if (url === undefined) {
      if (busy > 0 && busy === tried.size) throw new NoNodeAvailable(`every node serving ${model} is at capacity: retry in a second`, true);
      throw new NoNodeAvailable(`no healthy node serves model ${model}`);
    }
    tried.add(url);
    attempt.node = url;
    let produced = false;
    const held = pool.hold(url); // aborted if the pool ejects the node meanwhile
    try {
      for await (const event of generateOnNode(url, pool.secretHeaders, body, AbortSignal.any([signal, held.signal]), timeouts)) {
        produced = true;
        yield event;
      }
      return;
    } catch (thrown) {
      // The pool gave up on the node: a failure of the node's, not a cancel of the client's.
      const err = held.signal.aborted && !signal.aborted ? new NodeStreamError(`node ${url}: ${(held.signal.reason as Error).message}`) : thrown;
      if (err instanceof NodeBusy && !signal.aborted) {
        busy++;
        continue; // up but full: the next node, and this one stays in the pool
      }
      const nodeFailed = err instanceof NodeUnavailable || err instanceof NodeStreamError;
      if (signal.aborted || !nodeFailed || delivered()) throw err;
      pool.markFailed(url);
      log('warn', 'retrying on the next node', { request_id: body.request_id, node: url, error: (err as Error).message });
      if (produced) yield { type: 'restart' };
    } finally {
      held.release();
    }
  }
}
