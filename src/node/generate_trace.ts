// The spans of one generate call on a node (src/telemetry/tracing.ts): "generate" (child of
// the gateway's call when its traceparent came along), with "engine.prefill" from submit to
// the first token and "engine.decode" from there to the end. No-ops unless tracing is on.
import { SpanKind, SpanStatusCode } from '@opentelemetry/api';
import { context, contextFromHeaders, REQUEST_ID_ATTRIBUTE, trace, tracer, type Span } from '../telemetry/tracing.ts';

export class GenerateTrace {
  private readonly span: Span;
  private phase: Span;
  private decoding = false;

  constructor(headers: Record<string, string | undefined>, requestId: string, promptTokens: number) {
    const parent = contextFromHeaders(headers);
    this.span = tracer().startSpan('generate', { kind: SpanKind.SERVER, attributes: { [REQUEST_ID_ATTRIBUTE]: requestId, 'sirocco.prompt_tokens': promptTokens } }, parent);
    this.phase = tracer().startSpan('engine.prefill', { attributes: { [REQUEST_ID_ATTRIBUTE]: requestId } }, trace.setSpan(parent, this.span));
  }

  /** A token came out: the first one ends the prefill. */
  token(): void {
    if (this.decoding) return;
    this.decoding = true;
    this.phase.end();
    this.phase = tracer().startSpan('engine.decode', {}, trace.setSpan(context.active(), this.span));
  }

  end(outcome: { completionTokens: number; finishReason: string } | { error: string }): void {
    this.phase.end();
    if ('error' in outcome) this.span.setStatus({ code: SpanStatusCode.ERROR, message: outcome.error });
    else this.span.setAttributes({ 'sirocco.completion_tokens': outcome.completionTokens, 'sirocco.finish_reason': outcome.finishReason });
    this.span.end();
  }
}
