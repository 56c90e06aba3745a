// Node failures and lifecycles with real processes: a node dead before the first byte is
// skipped, one killed mid-stream ends the stream with an SSE error event, a client that
// disconnects frees its slot, and SIGTERM drains. Exactly one usage record per request.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { rendezvousOrder } from '../src/gateway/node_pool.ts';
import { readUsageFile } from '../src/gateway/ledger/ledger_file.ts';
import { NODE_SECRET } from './helpers/servers.ts';
import { startStack, type Stack } from './helpers/stack.ts';

let stack: Stack;
let key: string;
beforeAll(async () => {
  // Slow health checks: the gateway still believes in a killed node when the next request comes.
  stack = await startStack({ nodes: 2, gatewayArgs: ['--health-interval-ms', '600000'] });
  key = await stack.createKey('failover');
}, 120_000);
afterAll(async () => stack?.stop());

// A session id whose preferred node is `url`.
function sessionPreferring(url: string, tag: string): string {
  const urls = stack.nodes.map((n) => n.url);
  for (let i = 0; ; i++) if (rendezvousOrder(`h:${tag}-${i}`, urls)[0] === url) return `${tag}-${i}`;
}

const body = (extra: object = {}) =>
  JSON.stringify({ model: 'sirocco-test', messages: [{ role: 'user', content: 'Tell a long story.' }], temperature: 0, ...extra });

function post(session: string, payload: string, signal?: AbortSignal) {
  return fetch(`${stack.gateway.url}/v1/chat/completions`, {
    method: 'POST',
    headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json', 'x-session-id': session },
    body: payload,
    signal,
  });
}

// Reads SSE data chunks until `until` says stop or the stream ends.
async function readStream(res: Response, onChunk: (n: number) => void = () => {}): Promise<{ text: string; contentChunks: number }> {
  const reader = res.body!.getReader();
  const decoder = new TextDecoder();
  let text = '';
  let contentChunks = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    text += decoder.decode(value, { stream: true });
    contentChunks = (text.match(/"delta":\{"content"/g) ?? []).length;
    onChunk(contentChunks);
  }
  return { text, contentChunks };
}

async function recordsOf(requestId: string) {
  return (await readUsageFile(stack.dataDir)).filter((r) => r.request_id === requestId);
}

async function waitFor(check: () => Promise<boolean>, ms = 5000): Promise<void> {
  const end = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > end) throw new Error('condition not reached in time');
    await new Promise((r) => setTimeout(r, 50));
  }
}

describe('failover', () => {
  it('a node killed mid-stream ends the stream with an SSE error event and no [DONE]; the record has the delivered tokens', async () => {
    const victim = stack.nodes[0]!;
    const res = await post(sessionPreferring(victim.url, 'mid'), body({ stream: true, max_tokens: 3000, logprobs: true }));
    expect(res.status).toBe(200);
    let killed = false;
    const { text, contentChunks } = await readStream(res, (n) => {
      if (n >= 3 && !killed) {
        killed = true;
        victim.child.kill('SIGKILL');
      }
    });
    expect(killed).toBe(true);
    expect(text).toContain('event: error');
    expect(text).not.toContain('[DONE]');
    // The client learns that the node failed, not where it runs.
    const error = text.slice(text.indexOf('event: error'));
    expect(error).toContain('node_failure');
    expect(error).not.toMatch(/127\.0\.0\.1|http:\/\//);
    const records = await recordsOf(res.headers.get('x-request-id')!);
    expect(records).toHaveLength(1);
    expect(records[0]!.status).toBe('failed');
    // With logprobs every token is its own chunk: billed = delivered.
    expect(records[0]!.completion_tokens).toBe(contentChunks);
    expect(contentChunks).toBeLessThan(3000);
  });

  it('a node dead before the first byte is skipped: 200 from the next node, one record', async () => {
    const dead = stack.nodes[0]!; // killed above; the gateway has not noticed yet
    expect(dead.child.exitCode !== null || dead.child.signalCode !== null).toBe(true);
    for (const stream of [false, true]) {
      const res = await post(sessionPreferring(dead.url, `before-${stream}`), body({ stream, max_tokens: 8 }));
      expect(res.status).toBe(200);
      const text = await res.text();
      if (stream) expect(text.trim().endsWith('data: [DONE]')).toBe(true);
      else expect(JSON.parse(text).choices[0].message.content).toEqual(expect.any(String));
      const records = await recordsOf(res.headers.get('x-request-id')!);
      expect(records).toHaveLength(1);
      expect(records[0]!.status).toBe('ok');
      expect(records[0]!.node).toBe(stack.nodes[1]!.url);
    }
  });
});

describe('node lifecycle', () => {
  it('a client that disconnects frees its slot on the node; the record says aborted', async () => {
    const node = stack.nodes[1]!;
    const abort = new AbortController();
    const res = await post(sessionPreferring(node.url, 'gone'), body({ stream: true, max_tokens: 3000 }), abort.signal);
    const requestId = res.headers.get('x-request-id')!;
    await readStream(res, (n) => {
      if (n >= 3) abort.abort();
    }).catch(() => undefined);
    await waitFor(async () => (await stack.nodeMetric(node, 'sirocco_node_running_requests')) === 0);
    await waitFor(async () => (await recordsOf(requestId)).length === 1);
    const [record] = await recordsOf(requestId);
    expect(record!.status).toBe('aborted');
    expect(record!.completion_tokens).toBeGreaterThanOrEqual(3);
    expect(record!.completion_tokens).toBeLessThan(3000);
  });

  it('a non-streaming request whose client leaves is billed the tokens generated until then', async () => {
    const node = stack.nodes[1]!;
    const abort = new AbortController();
    const before = (await readUsageFile(stack.dataDir)).length;
    const pending = post(sessionPreferring(node.url, 'gone-whole'), body({ max_tokens: 3000 }), abort.signal).catch(() => undefined);
    await waitFor(async () => (await stack.nodeMetric(node, 'sirocco_node_generated_tokens_total')) > 0 && (await stack.nodeMetric(node, 'sirocco_node_running_requests')) === 1);
    await new Promise((r) => setTimeout(r, 300));
    abort.abort();
    await pending;
    await waitFor(async () => (await readUsageFile(stack.dataDir)).length === before + 1);
    const record = (await readUsageFile(stack.dataDir)).at(-1)!;
    expect(record.status).toBe('aborted');
    expect(record.completion_tokens).toBeGreaterThan(0);
    expect(record.completion_tokens).toBeLessThan(3000);
  });

  it('SIGTERM drains: readiness turns false, the running request finishes, the node exits 0', async () => {
    const node = stack.nodes[1]!;
    const res = await post(sessionPreferring(node.url, 'drain'), body({ stream: true, max_tokens: 600 }));
    let signalled = false;
    let streaming = true;
    const readiness: number[] = [];
    const watchReadiness = async () => {
      // Polled while the request is still streaming: it must turn 503 before the stream ends.
      while (streaming) {
        const r = await fetch(`${node.url}/internal/v1/ready`, { headers: { 'x-sirocco-node-secret': NODE_SECRET } }).catch(() => null);
        if (r) readiness.push(r.status);
        if (r?.status === 503) return;
        await new Promise((resolve) => setTimeout(resolve, 10));
      }
    };
    let watching: Promise<void> = Promise.resolve();
    const { text } = await readStream(res, (n) => {
      if (n >= 3 && !signalled) {
        signalled = true;
        node.child.kill('SIGTERM');
        watching = watchReadiness();
      }
    });
    streaming = false;
    await watching;
    expect(signalled).toBe(true);
    expect(readiness).toContain(503);
    expect(text.trim().endsWith('data: [DONE]')).toBe(true);
    expect(await node.stop()).toBe(0);
  });
});
