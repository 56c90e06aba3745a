// The gateway's billing path: every admitted request is journaled (admission_journal.ts) and
// ends with exactly one record in the usage ledger — written when it ends, or, if that write
// fails, retried until it lands, or, if this process dies first, written by reconciliation
// from its admission. Failed writes are logged and counted (sirocco_billing_write_failures_total)
// but never lose a request: its admission stays open until its record is in the ledger.
import { log } from '../telemetry/log.ts';
import { reconcileAdmissions, type AdmissionJournal, type GeneratedReport } from './ledger/admission_journal.ts';
import type { UsageLedger } from './ledger/usage_ledger.ts';
import type { UsageRecord } from './ledger/usage_record.ts';
import type { GatewayMetrics } from './metrics.ts';

export class Billing {
  // Final records whose ledger write failed, retried by reconcile(); their admissions stay open.
  private readonly unwritten = new Map<string, UsageRecord>();

  constructor(
    readonly ledger: UsageLedger,
    private readonly journal: AdmissionJournal,
    private readonly metrics: GatewayMetrics,
  ) {}

  /** Journals an admission. Never rejects: a failed write is logged and counted, and the request still ends with its record. */
  admit(provisional: UsageRecord): Promise<void> {
    return this.journal.open(provisional).catch((err: Error) => {
      this.metrics.recordBillingFailure('admission');
      log('error', 'admission journal write failed', { request_id: provisional.request_id, error: err.message });
    });
  }

  /**
   * Writes a request's final record (after `admitted`, so the journal sees its admission
   * first). False when the ledger refused the write: the record is kept and retried, and the
   * caller tells its client (an in-band error), since the request is not billed yet.
   */
  async finish(record: UsageRecord, admitted: Promise<void>): Promise<boolean> {
    await admitted;
    try {
      await this.ledger.append(record);
    } catch (err) {
      this.metrics.recordBillingFailure('record');
      log('error', 'usage ledger write failed; the record will be retried', { request_id: record.request_id, error: (err as Error).message });
      this.unwritten.set(record.request_id, record);
      return false;
    }
    this.journal.close(record.request_id);
    return true;
  }

  /** Retries unwritten records, then bills orphaned admissions. */
  async reconcile(generated: GeneratedReport, price: (r: UsageRecord) => UsageRecord): Promise<void> {
    for (const [id, record] of this.unwritten) {
      try {
        await this.ledger.append(record);
      } catch {
        return; // the ledger is still failing: try again next pass
      }
      this.unwritten.delete(id);
      this.journal.close(id);
      log('info', 'usage record written on retry', { request_id: id });
    }
    const { billed, alreadyFinal } = await reconcileAdmissions(this.journal, this.ledger, generated, price);
    if (billed + alreadyFinal > 0) log('warn', 'reconciled requests a stopped gateway left open', { billed_interrupted: billed, already_billed: alreadyFinal });
  }
}
