// An OpenTelemetry meter whose metrics are rendered in the Prometheus text format on demand
// (served by our own Hono route, so no exporter HTTP server is started).
import type { Meter } from '@opentelemetry/api';
import { PrometheusExporter, PrometheusSerializer } from '@opentelemetry/exporter-prometheus';
import { MeterProvider } from '@opentelemetry/sdk-metrics';

export class PrometheusMeter {
  readonly meter: Meter;
  private readonly exporter = new PrometheusExporter({ preventServerStart: true });
  private readonly serializer = new PrometheusSerializer();

  constructor(name: string) {
    this.meter = new MeterProvider({ readers: [this.exporter] }).getMeter(name);
  }

  async render(): Promise<string> {
    const { resourceMetrics } = await this.exporter.collect();
    return this.serializer.serialize(resourceMetrics);
  }
}
