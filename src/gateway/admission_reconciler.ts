// Runs Billing.reconcile() at start and then every intervalMs, one pass at a time: unwritten
// final records are retried and orphaned admissions billed, with the completion tokens the
// nodes report for them (a choice's best report across nodes: the attempt that got furthest).
import { GenerationReport } from '../protocol/internal_api.ts';
import { log } from '../telemetry/log.ts';
import type { Billing } from './billing.ts';
import type { GeneratedReport } from './ledger/admission_journal.ts';
import type { UsageRecord } from './ledger/usage_record.ts';
import type { NodePool } from './node_pool.ts';
import { costOf, type Prices } from './pricing.ts';

const ASK_TIMEOUT_MS = 2000;

async function askNode(pool: NodePool, url: string, id: string): Promise<number | null> {
  try {
    const res = await fetch(`${url}/internal/v1/generations/${encodeURIComponent(id)}`, { headers: pool.secretHeaders, signal: AbortSignal.timeout(ASK_TIMEOUT_MS) });
    if (!res.ok) return null;
    return GenerationReport.parse(await res.json()).completion_tokens;
  } catch {
    return null; // down, or too old to remember
  }
}

/** Completion tokens the pool's nodes generated for an orphan's choices; null if none knows. */
export function generatedOn(pool: NodePool): GeneratedReport {
  return async ({ request_id: requestId, n }) => {
    // The node-side ids of its choices (request_plan.ts): the request id alone when n = 1.
    const ids = n <= 1 ? [requestId] : Array.from({ length: n }, (_, i) => `${requestId}.${i}`);
    const perChoice = await Promise.all(ids.map(async (id) => (await Promise.all(pool.urls().map((u) => askNode(pool, u, id)))).filter((t) => t !== null)));
    if (perChoice.every((reports) => reports.length === 0)) return null;
    return perChoice.reduce((sum, reports) => sum + Math.max(0, ...reports), 0);
  };
}

export function startReconciler(billing: Billing, pool: NodePool, prices: Prices, intervalMs: number): { stop: () => void; idle: () => Promise<void> } {
  const price = (r: UsageRecord): UsageRecord => ({ ...r, cost: costOf(prices, r.model, r) });
  let running: Promise<void> = Promise.resolve();
  let timer: NodeJS.Timeout | null = null;
  let stopped = false;
  const pass = async () => {
    try {
      await billing.reconcile(generatedOn(pool), price);
    } catch (err) {
      log('error', 'billing reconciliation failed; retrying', { error: (err as Error).message });
    }
  };
  const tick = () => {
    running = pass().finally(() => {
      if (!stopped) timer = setTimeout(tick, intervalMs).unref();
    });
  };
  tick();
  return {
    stop: () => {
      stopped = true;
      if (timer) clearTimeout(timer);
    },
    idle: () => running,
  };
}
