// The durable record of what every request cost. Implementations: FileUsageLedger
// (usage.jsonl, ./file_usage_ledger.ts) and MemoryUsageLedger (./memory_usage_ledger.ts).
import type { UsageRecord } from './usage_record.ts';

export type UsageFilter = {
  keyId?: string;
  /** A Batch API job's lines only. */
  batchId?: string;
  /** Records whose request started at or after this instant. */
  since?: Date;
};

export interface UsageLedger {
  /**
   * Records one request, durably before resolving. A request_id already recorded is not
   * written again: retrying an append after a crash or timeout is safe. Rejects on an
   * invalid record or a storage failure (nothing is then recorded for it).
   */
  append(r: UsageRecord): Promise<'written' | 'duplicate'>;
  /** Records in append order; every append that resolved before the call is included. */
  read(filter?: UsageFilter): Promise<UsageRecord[]>;
}

export function checkFilter(filter: UsageFilter): void {
  if (filter.since !== undefined && Number.isNaN(filter.since.getTime())) throw new Error('usage filter: since is an invalid date');
}

export function matchesFilter(r: UsageRecord, filter: UsageFilter): boolean {
  if (filter.keyId !== undefined && r.key_id !== filter.keyId) return false;
  if (filter.batchId !== undefined && r.batch_id !== filter.batchId) return false;
  if (filter.since !== undefined && Date.parse(r.started_at) < filter.since.getTime()) return false;
  return true;
}
