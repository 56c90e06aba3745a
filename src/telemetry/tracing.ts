// OpenTelemetry traces of a request: gateway (its route, then the call to a node) → node
// (generate) → engine (prefill, decode). Off by default; set SIROCCO_OTLP_ENDPOINT (or the
// standard OTEL_EXPORTER_OTLP_ENDPOINT) to an OTLP/HTTP collector, e.g. http://collector:4318,
// and spans go to its /v1/traces in batches. The W3C traceparent header carries the trace from
// gateway to node; every span names the request id (sirocco.request_id).
// Only the API is loaded up front: the SDK and exporter (~100 ms of module loading) are
// imported when tracing is on, so a node's cold start does not pay for them.
import { context, propagation, trace, type Context, type Span, type Tracer } from '@opentelemetry/api';

export const REQUEST_ID_ATTRIBUTE = 'sirocco.request_id';

export function otlpEndpoint(env: NodeJS.ProcessEnv = process.env): string | null {
  const base = env.SIROCCO_OTLP_ENDPOINT || env.OTEL_EXPORTER_OTLP_ENDPOINT;
  return base ? `${base.replace(/\/+$/, '')}/v1/traces` : null;
}

/** Starts exporting this process's spans when an endpoint is configured; returns its shutdown (flushes). */
export async function startTracing(service: string): Promise<() => Promise<void>> {
  const url = otlpEndpoint();
  if (url === null) return async () => {};
  const [{ AsyncLocalStorageContextManager }, { W3CTraceContextPropagator }, { OTLPTraceExporter }, { resourceFromAttributes }, { BatchSpanProcessor, TracerProvider }] = await Promise.all([
    import('@opentelemetry/context-async-hooks'),
    import('@opentelemetry/core'),
    import('@opentelemetry/exporter-trace-otlp-http'),
    import('@opentelemetry/resources'),
    import('@opentelemetry/sdk-trace'),
  ]);
  const provider = new TracerProvider({
    resource: resourceFromAttributes({ 'service.name': service }),
    spanProcessors: [new BatchSpanProcessor({ exporter: new OTLPTraceExporter({ url }), scheduledDelayMillis: 500 })],
  });
  context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable());
  propagation.setGlobalPropagator(new W3CTraceContextPropagator());
  trace.setGlobalTracerProvider(provider);
  return () => provider.shutdown();
}

/** A no-op tracer until startTracing installed one. */
export const tracer = (): Tracer => trace.getTracer('sirocco');

/** The trace headers (traceparent) that make the callee's spans children of `span`. */
export function traceHeaders(span: Span): Record<string, string> {
  const headers: Record<string, string> = {};
  propagation.inject(trace.setSpan(context.active(), span), headers);
  return headers;
}

/** The context a caller's trace headers describe (the root context without them). */
export const contextFromHeaders = (headers: Record<string, string | undefined>): Context => propagation.extract(context.active(), headers);

export { context, trace, type Span };
