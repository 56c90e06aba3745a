// The gateway's Prometheus metrics: request and token counters per key and model, and
// latency histograms, on a PrometheusMeter; render() gives the text for a GET /metrics route.
//
// Labels carry key ids (key_…), never keys: a value shaped like an API key is replaced.
// Model and key labels come from requests, so their numbers are capped: past `maxModels` /
// `maxKeys` distinct values, new ones are counted under "other" rather than growing the
// series without bound (per-key billing is the ledger's job; the metrics show the big users).
import type { Attributes, Counter, Histogram } from '@opentelemetry/api';
import { z } from 'zod';
import { PrometheusMeter } from '../telemetry/prometheus.ts';

export { PROMETHEUS_CONTENT_TYPE } from '../telemetry/prometheus.ts';

export type RequestOutcome = {
  keyId: string;
  model: string;
  endpoint: string;
  status: string;
  promptTokens: number;
  cachedTokens: number;
  completionTokens: number;
};

export type LatencyObservation = {
  model: string;
  endpoint: string;
  status: string;
  /** Whole request, from arrival to the last byte. */
  durationSeconds: number;
  /** Arrival to the first generated token, if there was one. */
  timeToFirstTokenSeconds?: number;
  /** After the first token, the time per further token (requests with at least two). */
  timePerOutputTokenSeconds?: number;
};

const OptionsSchema = z.strictObject({ maxModels: z.number().int().positive().optional(), maxKeys: z.number().int().positive().optional() });
export type GatewayMetricsOptions = z.infer<typeof OptionsSchema>;

const LATENCY_BUCKETS = [0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300];

export class GatewayMetrics {
  private readonly prometheus = new PrometheusMeter('sirocco-gateway');
  private readonly requests: Counter;
  private readonly promptTokens: Counter;
  private readonly cachedTokens: Counter;
  private readonly completionTokens: Counter;
  private readonly duration: Histogram;
  private readonly ttft: Histogram;
  private readonly rejected: Counter;
  private readonly tpot: Histogram;
  private readonly finishes: Counter;
  private readonly billingFailures: Counter;
  private readonly models = new Set<string>();
  private readonly maxModels: number;
  private readonly keys = new Set<string>();
  private readonly maxKeys: number;

  constructor(options: GatewayMetricsOptions = {}) {
    const o = OptionsSchema.parse(options);
    this.maxModels = o.maxModels ?? 100;
    this.maxKeys = o.maxKeys ?? 100;
    const meter = this.prometheus.meter;
    this.requests = meter.createCounter('sirocco_requests_total', { description: 'Requests answered, by key, model, endpoint and status' });
    this.promptTokens = meter.createCounter('sirocco_prompt_tokens_total', { description: 'Prompt tokens processed' });
    this.cachedTokens = meter.createCounter('sirocco_cached_tokens_total', { description: 'Prompt tokens served from the prefix cache' });
    this.completionTokens = meter.createCounter('sirocco_completion_tokens_total', { description: 'Tokens generated' });
    const advice = { explicitBucketBoundaries: LATENCY_BUCKETS };
    this.duration = meter.createHistogram('sirocco_request_duration_seconds', { description: 'Request duration', unit: 's', advice });
    this.ttft = meter.createHistogram('sirocco_time_to_first_token_seconds', { description: 'Time to first token', unit: 's', advice });
    this.tpot = meter.createHistogram('sirocco_time_per_output_token_seconds', {
      description: 'Time per generated token after the first',
      unit: 's',
      advice: { explicitBucketBoundaries: [0.001, 0.0025, 0.005, 0.01, 0.02, 0.05, 0.1, 0.25, 0.5, 1] },
    });
    this.finishes = meter.createCounter('sirocco_finish_reasons_total', { description: 'Choices finished, by model and finish reason' });
    this.billingFailures = meter.createCounter('sirocco_billing_write_failures_total', { description: 'Failed writes of the admission journal or the usage ledger (billed later by reconciliation)' });
    this.rejected = meter.createCounter('sirocco_rejected_requests_total', { description: 'Requests refused before reaching a node, by route and reason (error code)' });
  }

  /**
   * A write of the billing path failed: `what` is 'admission' (the journal) or 'record' (the
   * ledger). Alert on any: the request is billed later (reconciliation), not lost.
   */
  recordBillingFailure(what: 'admission' | 'record'): void {
    this.billingFailures.add(1, { what });
  }

  /** A refused request: `reason` is the OpenAI error code (or type), a small fixed set. */
  recordRejection(route: string, reason: string): void {
    this.rejected.add(1, { route, reason });
  }

  recordRequest(a: RequestOutcome): void {
    const who: Attributes = { key_id: this.keyLabel(safeKeyId(a.keyId)), model: this.modelLabel(a.model) };
    this.requests.add(1, { ...who, endpoint: a.endpoint, status: a.status });
    // Zero adds still create the series, so every (key, model) shows all four counters.
    this.promptTokens.add(nonNegative(a.promptTokens), who);
    this.cachedTokens.add(nonNegative(a.cachedTokens), who);
    this.completionTokens.add(nonNegative(a.completionTokens), who);
  }

  observeLatency(o: LatencyObservation): void {
    const attrs: Attributes = { model: this.modelLabel(o.model), endpoint: o.endpoint, status: o.status };
    if (Number.isFinite(o.durationSeconds) && o.durationSeconds >= 0) this.duration.record(o.durationSeconds, attrs);
    const t = o.timeToFirstTokenSeconds;
    if (t !== undefined && Number.isFinite(t) && t >= 0) this.ttft.record(t, attrs);
    const p = o.timePerOutputTokenSeconds;
    if (p !== undefined && Number.isFinite(p) && p >= 0) this.tpot.record(p, attrs);
  }

  /** One finished choice: stop, length, abort … */
  recordFinish(model: string, reason: string): void {
    this.finishes.add(1, { model: this.modelLabel(model), reason });
  }

  /** Prometheus text exposition of every metric so far. */
  render(): Promise<string> {
    return this.prometheus.render();
  }

  shutdown(): Promise<void> {
    return this.prometheus.shutdown();
  }

  private modelLabel(model: string): string {
    return capped(this.models, this.maxModels, model);
  }

  private keyLabel(keyId: string): string {
    return capped(this.keys, this.maxKeys, keyId);
  }
}

function capped(seen: Set<string>, max: number, value: string): string {
  if (seen.has(value)) return value;
  if (seen.size >= max) return 'other';
  seen.add(value);
  return value;
}

function safeKeyId(keyId: string): string {
  return keyId.startsWith('sk-') ? 'redacted' : keyId;
}

function nonNegative(n: number): number {
  return Number.isFinite(n) && n > 0 ? n : 0;
}
