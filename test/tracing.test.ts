// OpenTelemetry traces end to end (issue 10): with SIROCCO_OTLP_ENDPOINT pointing at an OTLP/HTTP
// collector (here a real HTTP server that keeps what it receives), one chat completion yields
// one trace across processes — the gateway's route span, its call to the node, the node's
// generate span and the engine's prefill and decode — every span naming the request id.
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import OpenAI from 'openai';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { startStack, type Stack } from './helpers/stack.ts';

type OtlpValue = { stringValue?: string; intValue?: string | number };
type OtlpSpan = { traceId: string; spanId: string; parentSpanId?: string; name: string; kind: number; attributes: { key: string; value: OtlpValue }[] };
type OtlpExport = { resourceSpans: { resource: { attributes: { key: string; value: OtlpValue }[] }; scopeSpans: { spans: OtlpSpan[] }[] }[] };

const received: { service: string; span: OtlpSpan }[] = [];
let collector: Server;
let stack: Stack;
beforeAll(async () => {
  collector = createServer((req, res) => {
    let text = '';
    req.on('data', (d: Buffer) => (text += d.toString()));
    req.on('end', () => {
      if (req.url === '/v1/traces') {
        const body = JSON.parse(text) as OtlpExport;
        for (const rs of body.resourceSpans) {
          const service = rs.resource.attributes.find((a) => a.key === 'service.name')?.value.stringValue ?? '';
          for (const ss of rs.scopeSpans) for (const span of ss.spans) received.push({ service, span });
        }
      }
      res.writeHead(200, { 'content-type': 'application/json' }).end('{}');
    });
  });
  await new Promise<void>((r) => collector.listen(0, '127.0.0.1', r));
  const endpoint = `http://127.0.0.1:${(collector.address() as AddressInfo).port}`;
  stack = await startStack({ env: { SIROCCO_OTLP_ENDPOINT: endpoint } });
}, 120_000);
afterAll(async () => {
  await stack?.stop();
  collector?.close();
});

const attribute = (span: OtlpSpan, key: string) => span.attributes.find((a) => a.key === key)?.value;

it('one request is one trace: gateway route → node call → node generate → engine prefill and decode', async () => {
  const client = new OpenAI({ baseURL: `${stack.gateway.url}/v1`, apiKey: await stack.createKey('traced'), maxRetries: 0 });
  const res = await client.chat.completions.create({ model: stack.modelId, messages: [{ role: 'user', content: 'Hi' }], max_tokens: 4 });
  const byName = (name: string) => received.find((r) => r.span.name === name && attribute(r.span, 'sirocco.request_id')?.stringValue === res.id);
  for (let i = 0; i < 100 && !(byName('POST /v1/chat/completions') && byName('generate') && byName('engine.prefill')); i++) await new Promise((r) => setTimeout(r, 100));

  const route = byName('POST /v1/chat/completions')!;
  const call = received.find((r) => r.span.name === 'node.generate' && attribute(r.span, 'sirocco.request_id')?.stringValue === res.id)!;
  const generate = byName('generate')!;
  const prefill = byName('engine.prefill')!;
  const decode = received.find((r) => r.span.name === 'engine.decode' && r.span.parentSpanId === generate.span.spanId)!;
  expect([route.service, call.service, generate.service, prefill.service]).toEqual(['sirocco-gateway', 'sirocco-gateway', 'sirocco-node', 'sirocco-node']);
  const traceId = route.span.traceId;
  for (const s of [call, generate, prefill, decode]) expect(s.span.traceId).toBe(traceId);
  expect(call.span.parentSpanId).toBe(route.span.spanId);
  expect(generate.span.parentSpanId).toBe(call.span.spanId); // carried by the traceparent header
  expect(prefill.span.parentSpanId).toBe(generate.span.spanId);
  expect(Number(attribute(route.span, 'sirocco.completion_tokens')?.intValue)).toBe(res.usage!.completion_tokens);
  expect(attribute(generate.span, 'sirocco.finish_reason')?.stringValue).toBe(res.choices[0]!.finish_reason);
});
