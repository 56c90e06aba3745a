// GatewayMetrics renders Prometheus text with the right counters, labels and values.
import { describe, expect, it } from 'vitest';
import { GatewayMetrics, type RequestOutcome } from '../src/gateway/metrics.ts';

function outcome(over: Partial<RequestOutcome> = {}): RequestOutcome {
  return {
    keyId: 'key_aaaaaaaaaaaa',
    model: 'mistral-tiny',
    endpoint: 'chat.completions',
    status: 'ok',
    promptTokens: 10,
    cachedTokens: 4,
    completionTokens: 5,
    ...over,
  };
}

/** The sample value of the series `name{labels}` (labels in emission order), or undefined. */
function sample(text: string, series: string): number | undefined {
  const line = text.split('\n').find((l) => l.startsWith(series + ' '));
  return line === undefined ? undefined : Number(line.slice(series.length + 1));
}

describe('GatewayMetrics', () => {
  it('counts requests and tokens per key and model', async () => {
    const m = new GatewayMetrics();
    m.recordRequest(outcome());
    m.recordRequest(outcome({ promptTokens: 7, cachedTokens: 0, completionTokens: 3 }));
    m.recordRequest(outcome({ status: 'aborted', completionTokens: 1 }));
    m.recordRequest(outcome({ keyId: 'key_bbbbbbbbbbbb', model: 'other-model', endpoint: 'completions', promptTokens: 2, cachedTokens: 0, completionTokens: 9 }));
    const text = await m.render();

    expect(text).toContain('# TYPE sirocco_requests_total counter');
    const a = 'key_id="key_aaaaaaaaaaaa",model="mistral-tiny"';
    const b = 'key_id="key_bbbbbbbbbbbb",model="other-model"';
    expect(sample(text, `sirocco_requests_total{${a},endpoint="chat.completions",status="ok"}`)).toBe(2);
    expect(sample(text, `sirocco_requests_total{${a},endpoint="chat.completions",status="aborted"}`)).toBe(1);
    expect(sample(text, `sirocco_requests_total{${b},endpoint="completions",status="ok"}`)).toBe(1);
    expect(sample(text, `sirocco_prompt_tokens_total{${a}}`)).toBe(27);
    expect(sample(text, `sirocco_cached_tokens_total{${a}}`)).toBe(8);
    expect(sample(text, `sirocco_completion_tokens_total{${a}}`)).toBe(9);
    expect(sample(text, `sirocco_prompt_tokens_total{${b}}`)).toBe(2);
    expect(sample(text, `sirocco_cached_tokens_total{${b}}`)).toBe(0);
    expect(sample(text, `sirocco_completion_tokens_total{${b}}`)).toBe(9);
    // Counters stay cumulative between scrapes.
    m.recordRequest(outcome());
    expect(sample(await m.render(), `sirocco_requests_total{${a},endpoint="chat.completions",status="ok"}`)).toBe(3);
    await m.shutdown();
  });

  it('records latency histograms', async () => {
    const m = new GatewayMetrics();
    m.observeLatency({ model: 'mistral-tiny', endpoint: 'chat.completions', status: 'ok', durationSeconds: 0.3, timeToFirstTokenSeconds: 0.04 });
    m.observeLatency({ model: 'mistral-tiny', endpoint: 'chat.completions', status: 'ok', durationSeconds: 2 });
    const text = await m.render();
    const labels = 'model="mistral-tiny",endpoint="chat.completions",status="ok"';
    expect(sample(text, `sirocco_request_duration_seconds_count{${labels}}`)).toBe(2);
    expect(sample(text, `sirocco_request_duration_seconds_sum{${labels}}`)).toBeCloseTo(2.3);
    expect(sample(text, `sirocco_request_duration_seconds_bucket{${labels},le="0.5"}`)).toBe(1);
    expect(sample(text, `sirocco_time_to_first_token_seconds_count{${labels}}`)).toBe(1);
    await m.shutdown();
  });

  it('never exposes a raw key, and caps the number of model labels', async () => {
    const m = new GatewayMetrics({ maxModels: 2 });
    const rawKey = 'sk-' + 'x'.repeat(43);
    m.recordRequest(outcome({ keyId: rawKey }));
    for (const model of ['m1', 'm2', 'm3', 'm4']) m.recordRequest(outcome({ model }));
    const text = await m.render();
    expect(text).not.toContain(rawKey);
    expect(text).not.toContain('x'.repeat(43));
    expect(text).toContain('key_id="redacted"');
    // mistral-tiny and m1 took the two slots; m2…m4 are counted as "other".
    expect(text).toContain('model="m1"');
    expect(text).not.toContain('model="m2"');
    expect(sample(text, `sirocco_requests_total{key_id="key_aaaaaaaaaaaa",model="other",endpoint="chat.completions",status="ok"}`)).toBe(3);
    expect(() => new GatewayMetrics({ maxModels: 0 })).toThrow();
    await m.shutdown();
  });

  it('caps the number of key labels: past maxKeys, new keys count as "other"', async () => {
    const m = new GatewayMetrics({ maxKeys: 2 });
    for (const keyId of ['key_000000000001', 'key_000000000002', 'key_000000000003', 'key_000000000004']) m.recordRequest(outcome({ keyId }));
    const text = await m.render();
    expect(text).toContain('key_id="key_000000000002"');
    expect(text).not.toContain('key_id="key_000000000003"');
    expect(sample(text, `sirocco_requests_total{key_id="other",model="mistral-tiny",endpoint="chat.completions",status="ok"}`)).toBe(2);
    await m.shutdown();
  });
});
