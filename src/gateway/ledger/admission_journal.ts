// Billing that survives a crash. A usage record is written when a request ends; a gateway
// killed (kill -9, OOM, a lost machine) while requests are in flight would leave them unbilled.
// So when a request is admitted, its provisional record — what to bill if this process dies
// now: status 'interrupted', its prompt, no completion yet — goes to an admission journal, and
// the request's final record closes it. An admission whose process died unclosed is an orphan:
// reconcileAdmissions() writes its provisional record to the ledger, with the tokens the node
// says it generated when a node can still tell. The ledger keeps one record per request id, so
// an orphan whose final record did make it (the crash came between the two writes) is a
// duplicate, never billed twice.
import type { UsageLedger } from './usage_ledger.ts';
import type { UsageRecord } from './usage_record.ts';

export interface AdmissionJournal {
  /** Durably notes the admission of `provisional.request_id`. */
  open(provisional: UsageRecord): Promise<void>;
  /** The request's final record is in the ledger: its admission may be dropped (lazily). */
  close(requestId: string): void;
  /** Provisional records of admissions made by processes that have died without closing them. */
  orphans(): Promise<UsageRecord[]>;
  /** These orphans are billed (or found billed): drop them. */
  forget(requestIds: readonly string[]): Promise<void>;
  closeJournal(): Promise<void>;
}

/** What the nodes generated for an orphaned request (completion tokens), or null if none knows. */
export type GeneratedReport = (orphan: UsageRecord) => Promise<number | null>;

/**
 * Bills every orphan once: its provisional record, with the completion tokens `generated`
 * reports, finished now; `price` fills in the cost. Returns how many were billed here and
 * how many had a final record already.
 */
export async function reconcileAdmissions(
  journal: AdmissionJournal,
  ledger: UsageLedger,
  generated: GeneratedReport,
  price: (r: UsageRecord) => UsageRecord,
): Promise<{ billed: number; alreadyFinal: number }> {
  const orphans = await journal.orphans();
  if (orphans.length === 0) return { billed: 0, alreadyFinal: 0 }; // the usual pass: nothing to write or forget
  let billed = 0;
  for (const orphan of orphans) {
    const tokens = await generated(orphan).catch(() => null);
    const record = price({
      ...orphan,
      completion_tokens: tokens ?? 0,
      finished_at: new Date().toISOString(),
      error: `the gateway stopped before the request ended; ${tokens === null ? 'no node could report its completion tokens' : 'completion tokens as its node reported them'}`,
    });
    if ((await ledger.append(record)) === 'written') billed++;
  }
  await journal.forget(orphans.map((o) => o.request_id));
  return { billed, alreadyFinal: orphans.length - billed };
}
