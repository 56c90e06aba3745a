// Usage totals per (key, model), for `sirocco usage` and for billing exports.
import { USAGE_STATUSES, type UsageRecord, type UsageStatus } from './usage_record.ts';

export type UsageTotals = {
  requests: number;
  by_status: Record<UsageStatus, number>;
  prompt_tokens: number;
  cached_tokens: number;
  completion_tokens: number;
  /** prompt + completion: cached tokens are part of the prompt, not added again. */
  total_tokens: number;
  /** US dollars of the priced records (records without a price add nothing). */
  cost: number;
};

export type UsageSummaryRow = { key_id: string; model: string } & UsageTotals;

export type UsageSummary = {
  /** One row per (key_id, model), sorted by key_id then model. */
  rows: UsageSummaryRow[];
  totals: UsageTotals;
};

function emptyTotals(): UsageTotals {
  const by_status = Object.fromEntries(USAGE_STATUSES.map((s) => [s, 0])) as Record<UsageStatus, number>;
  return { requests: 0, by_status, prompt_tokens: 0, cached_tokens: 0, completion_tokens: 0, total_tokens: 0, cost: 0 };
}

function add(t: UsageTotals, r: UsageRecord): void {
  t.requests += 1;
  t.by_status[r.status] += 1;
  t.prompt_tokens += r.prompt_tokens;
  t.cached_tokens += r.cached_tokens;
  t.completion_tokens += r.completion_tokens;
  t.total_tokens += r.prompt_tokens + r.completion_tokens;
  t.cost = Math.round((t.cost + (r.cost ?? 0)) * 1e8) / 1e8;
}

export function summarizeUsage(records: Iterable<UsageRecord>): UsageSummary {
  const groups = new Map<string, UsageSummaryRow>();
  const totals = emptyTotals();
  for (const r of records) {
    // JSON of the pair: no separator character can make two different pairs collide.
    const group = JSON.stringify([r.key_id, r.model]);
    let row = groups.get(group);
    if (!row) groups.set(group, (row = { key_id: r.key_id, model: r.model, ...emptyTotals() }));
    add(row, r);
    add(totals, r);
  }
  const rows = [...groups.values()].sort((a, b) =>
    a.key_id === b.key_id ? (a.model < b.model ? -1 : a.model > b.model ? 1 : 0) : a.key_id < b.key_id ? -1 : 1,
  );
  return { rows, totals };
}
