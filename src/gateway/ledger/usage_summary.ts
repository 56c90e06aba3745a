// Usage totals per (key, model, kind), for `sirocco usage` and for billing exports: a Batch
// API job's lines (batch_id set) apart from interactive requests, as providers price them.
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

export type UsageKind = 'interactive' | 'batch';
export type UsageSummaryRow = { key_id: string; model: string; kind: UsageKind } & UsageTotals;

export type UsageSummary = {
  /** One row per (key_id, model, kind), sorted by key_id, model, then kind. */
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
    const kind: UsageKind = r.batch_id === null ? 'interactive' : 'batch';
    // JSON of the triple: no separator character can make two different ones collide.
    const group = JSON.stringify([r.key_id, r.model, kind]);
    let row = groups.get(group);
    if (!row) groups.set(group, (row = { key_id: r.key_id, model: r.model, kind, ...emptyTotals() }));
    add(row, r);
    add(totals, r);
  }
  const order = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0);
  const rows = [...groups.values()].sort((a, b) => order(a.key_id, b.key_id) || order(a.model, b.model) || order(b.kind, a.kind));
  return { rows, totals };
}
