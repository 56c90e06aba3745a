// Usage records grouped as OpenAI's usage API answers (GET /v1/organization/usage/completions):
// a page of time buckets, each with one result per group (model and/or api_key_id), so clients
// and dashboards written for OpenAI read Sirocco's usage unchanged.
import type { UsageRecord } from './ledger/usage_record.ts';

export type BucketWidth = '1h' | '1d';
export type GroupBy = 'model' | 'api_key_id';

const WIDTH_S: Record<BucketWidth, number> = { '1h': 3600, '1d': 86_400 };

type Result = {
  object: 'organization.usage.completions.result';
  input_tokens: number;
  output_tokens: number;
  input_cached_tokens: number;
  num_model_requests: number;
  project_id: null;
  user_id: null;
  api_key_id: string | null;
  model: string | null;
  batch: null;
};

/** Buckets from `start` (unix s, aligned down to the width) to `end`; empty buckets included. */
export function usageBuckets(records: readonly UsageRecord[], o: { start: number; end: number; width: BucketWidth; groupBy: GroupBy[] }) {
  const width = WIDTH_S[o.width];
  const first = Math.floor(o.start / width) * width;
  const buckets = new Map<number, Map<string, Result>>();
  for (let t = first; t < o.end; t += width) buckets.set(t, new Map());
  for (const r of records) {
    const at = Date.parse(r.started_at) / 1000;
    if (at < first || at >= o.end) continue;
    const groups = buckets.get(Math.floor(at / width) * width)!;
    const model = o.groupBy.includes('model') ? r.model : null;
    const keyId = o.groupBy.includes('api_key_id') ? r.key_id : null;
    const group = `${model}\u0000${keyId}`;
    let result = groups.get(group);
    if (!result) {
      result = { object: 'organization.usage.completions.result', input_tokens: 0, output_tokens: 0, input_cached_tokens: 0, num_model_requests: 0, project_id: null, user_id: null, api_key_id: keyId, model, batch: null };
      groups.set(group, result);
    }
    result.input_tokens += r.prompt_tokens;
    result.output_tokens += r.completion_tokens;
    result.input_cached_tokens += r.cached_tokens;
    if (r.status !== 'rejected') result.num_model_requests += 1;
  }
  const data = [...buckets].map(([start, groups]) => ({ object: 'bucket', start_time: start, end_time: start + width, results: [...groups.values()] }));
  return { object: 'page', data, has_more: false, next_page: null };
}
