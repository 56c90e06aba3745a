// A node that stops without dying (SIGSTOP): the streams it holds end with an in-band error
// within the gateway's idle timeout, and new requests fail over to the other node within the
// connect timeout — nothing waits on the hung node for the HTTP client's 300 s.
import { startStack } from '../../test/helpers/stack.ts';
import { rendezvousOrder } from '../../src/gateway/node_pool.ts';
import { ms, type Scenario } from '../scenario.ts';
import { openStream } from '../streams.ts';

const TIMEOUT_MS = 1500;

export const hungNode: Scenario = {
  name: 'SIGSTOP of a node',
  claim: `in-flight streams on it end with an error event, and new requests succeed elsewhere, within 2× the ${TIMEOUT_MS} ms timeouts`,
  async run({ short }) {
    const stack = await startStack({
      nodes: 2,
      gatewayArgs: ['--health-interval-ms', '600000', '--connect-timeout-ms', String(TIMEOUT_MS), '--node-idle-timeout-ms', String(TIMEOUT_MS)],
    });
    const [victim] = stack.nodes;
    try {
      const key = await stack.createKey('hung');
      const urls = stack.nodes.map((n) => n.url);
      const onVictim = (tag: string) => {
        for (let i = 0; ; i++) if (rendezvousOrder(`h:${tag}-${i}`, urls)[0] === victim!.url) return `${tag}-${i}`;
      };
      const n = short ? 4 : 12;
      const streams = await Promise.all(Array.from({ length: n }, (_, i) => openStream(stack.gateway.url, key, { model: 'sirocco-test', prompt: 'Tell a story.', max_tokens: 3000, temperature: 1, seed: i }, onVictim(`s${i}`))));
      await Promise.all(streams.map((s) => s.reached(2)));
      victim!.child.kill('SIGSTOP');
      const stoppedAt = performance.now();
      const ends = await Promise.all(streams.map((s) => s.ended));
      const worstStream = Math.max(...ends.map((e) => e.at - stoppedAt));
      const fresh = await Promise.all(
        Array.from({ length: n }, async (_, i) => {
          const t0 = performance.now();
          const res = await fetch(`${stack.gateway.url}/v1/completions`, {
            method: 'POST',
            headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json', 'x-session-id': onVictim(`f${i}`) },
            body: JSON.stringify({ model: 'sirocco-test', prompt: 'Hi', max_tokens: 4 }),
          });
          await res.arrayBuffer();
          return { status: res.status, ms: performance.now() - t0 };
        }),
      );
      const worstFresh = Math.max(...fresh.map((f) => f.ms));
      const errors = ends.filter((e) => e.end === 'error-event').length;
      const ok = fresh.filter((f) => f.status === 200).length;
      return {
        figure: `${n} streams on the stopped node: ${errors} ended with an error event, the last after ${ms(worstStream)}; ${ok}/${n} new requests for it served by the other node, the slowest in ${ms(worstFresh)}`,
        pass: errors === n && ok === n && worstStream <= 2 * TIMEOUT_MS && worstFresh <= 2 * TIMEOUT_MS + 1000,
      };
    } finally {
      victim?.child.kill('SIGCONT');
      await stack.stop();
    }
  },
};
