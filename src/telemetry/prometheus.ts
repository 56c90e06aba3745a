// An OpenTelemetry meter whose metrics are rendered in the Prometheus text format on demand
// (served by our own Hono routes, so no exporter HTTP server is started). One per gateway or
// node: a MeterProvider of its own, no global state.
import type { Meter } from '@opentelemetry/api';
import { PrometheusExporter, PrometheusSerializer } from '@opentelemetry/exporter-prometheus';
import { MeterProvider } from '@opentelemetry/sdk-metrics';

export const PROMETHEUS_CONTENT_TYPE = 'text/plain; version=0.0.4; charset=utf-8';

export class PrometheusMeter {
  readonly meter: Meter;
  private readonly exporter = new PrometheusExporter({ preventServerStart: true });
  // No target_info / otel_scope_info series: nothing a scraper of one process needs.
  private readonly serializer = new PrometheusSerializer(undefined, false, undefined, true, true);
  private readonly provider: MeterProvider;

  constructor(name: string) {
    this.provider = new MeterProvider({ readers: [this.exporter] });
    this.meter = this.provider.getMeter(name);
  }

  async render(): Promise<string> {
    const { resourceMetrics, errors } = await this.exporter.collect();
    if (errors.length > 0) process.stderr.write(`sirocco metrics: ${errors.map(String).join('; ')}\n`);
    return this.serializer.serialize(resourceMetrics);
  }

  async shutdown(): Promise<void> {
    await this.provider.shutdown();
  }
}
