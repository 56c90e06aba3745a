// A completion request the gateway refused (400, 404, 429, 503 …) still leaves a trace: one
// usage record with status "rejected" and the reason (nothing billed: no node worked), a
// metric by route and reason, and a log line. Unauthenticated requests (401) get the metric
// and the log line only: an anonymous caller must not be able to grow the ledger.
import { log } from '../telemetry/log.ts';
import type { GatewayDeps } from './gateway_deps.ts';
import type { Endpoint } from './ledger/usage_record.ts';
import type { OpenAIError } from './openai_error.ts';
import { costOf } from './pricing.ts';

export type Rejection = { requestId: string; keyId: string; endpoint: Endpoint; model: string; startedAt: Date; error: OpenAIError; batchId: string | null };

export const reasonOf = (error: OpenAIError) => error.code ?? error.type;

export async function recordRejection(deps: GatewayDeps, r: Rejection): Promise<void> {
  const reason = reasonOf(r.error);
  deps.metrics.recordRejection(r.endpoint, reason);
  deps.metrics.recordRequest({ keyId: r.keyId, model: r.model, endpoint: r.endpoint, status: 'rejected', promptTokens: 0, cachedTokens: 0, completionTokens: 0 });
  log('warn', 'request rejected', { request_id: r.requestId, key_id: r.keyId, status: r.error.status, reason });
  try {
    await deps.ledger.append({
      request_id: r.requestId,
      key_id: r.keyId,
      model: r.model.slice(0, 500),
      endpoint: r.endpoint,
      status: 'rejected',
      prompt_tokens: 0,
      cached_tokens: 0,
      completion_tokens: 0,
      n: 0,
      node: null,
      started_at: r.startedAt.toISOString(),
      finished_at: new Date().toISOString(),
      error: `${r.error.status} ${reason}: ${r.error.message}`.slice(0, 1000),
      cost: costOf(deps.prices, r.model, { prompt_tokens: 0, cached_tokens: 0, completion_tokens: 0 }),
      batch_id: r.batchId,
    });
  } catch (err) {
    // The client still gets its error; the missing record is logged, not turned into a 500.
    log('error', 'could not record a rejected request', { request_id: r.requestId, error: (err as Error).message });
  }
}
