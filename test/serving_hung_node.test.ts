// A node that stops answering without dying (SIGSTOP: a hung process, a dead link) must not
// hold requests (issue 11): before the first token the request fails over to the next node
// within --connect-timeout-ms; mid-stream the gateway gives up after --node-idle-timeout-ms of
// silence and ends the stream with an in-band error, billing what was delivered.
import { afterAll, beforeAll, expect, it } from 'vitest';
import { readUsageFile } from '../src/gateway/ledger/ledger_file.ts';
import { rendezvousOrder } from '../src/gateway/node_pool.ts';
import { startStack, type Stack } from './helpers/stack.ts';

const TIMEOUT_MS = 1500;
let stack: Stack;
let key: string;
beforeAll(async () => {
  stack = await startStack({
    nodes: 2,
    gatewayArgs: ['--health-interval-ms', '600000', '--connect-timeout-ms', String(TIMEOUT_MS), '--node-idle-timeout-ms', String(TIMEOUT_MS)],
  });
  key = await stack.createKey('hung');
}, 120_000);
afterAll(async () => {
  for (const n of stack?.nodes ?? []) n.child.kill('SIGCONT');
  await stack?.stop();
});

function sessionPreferring(url: string, tag: string): string {
  const urls = stack.nodes.map((n) => n.url);
  for (let i = 0; ; i++) if (rendezvousOrder(`h:${tag}-${i}`, urls)[0] === url) return `${tag}-${i}`;
}

const ask = (session: string, extra: object) =>
  fetch(`${stack.gateway.url}/v1/chat/completions`, {
    method: 'POST',
    headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json', 'x-session-id': session },
    body: JSON.stringify({ model: 'sirocco-test', messages: [{ role: 'user', content: 'Tell a long story.' }], temperature: 0, ...extra }),
  });

it('mid-stream: a silent node is abandoned after the idle timeout, with an in-band error and the delivered tokens billed', async () => {
  const victim = stack.nodes[0]!;
  const res = await ask(sessionPreferring(victim.url, 'mid'), { stream: true, max_tokens: 3000, logprobs: true });
  const reader = res.body!.getReader();
  const decoder = new TextDecoder();
  let text = '';
  let stoppedAt = 0;
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      text += decoder.decode(value, { stream: true });
      if (stoppedAt === 0 && (text.match(/"delta":\{"content"/g) ?? []).length >= 3) {
        victim.child.kill('SIGSTOP');
        stoppedAt = Date.now();
      }
    }
    const waited = Date.now() - stoppedAt;
    expect(stoppedAt).toBeGreaterThan(0);
    expect(text).toContain('event: error');
    expect(text).not.toContain('[DONE]');
    expect(waited).toBeLessThan(TIMEOUT_MS * 4); // not the HTTP client's 300 s
    const record = (await readUsageFile(stack.dataDir)).find((r) => r.request_id === res.headers.get('x-request-id'));
    expect(record?.status).toBe('failed');
    expect(record?.completion_tokens).toBeGreaterThanOrEqual(3);
  } finally {
    victim.child.kill('SIGCONT');
  }
});

it('before the first token: a silent node is skipped for the next one within the connect timeout', async () => {
  const victim = stack.nodes[1]!;
  victim.child.kill('SIGSTOP');
  try {
    const res = await ask(sessionPreferring(victim.url, 'first'), { max_tokens: 4 });
    expect(res.status).toBe(200);
    const record = (await readUsageFile(stack.dataDir)).find((r) => r.request_id === res.headers.get('x-request-id'));
    expect(record?.node).toBe(stack.nodes[0]!.url);
  } finally {
    victim.child.kill('SIGCONT');
  }
});
