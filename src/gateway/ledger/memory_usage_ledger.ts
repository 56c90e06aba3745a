// UsageLedger held in memory: tests and embedded use. Same validation and de-duplication
// as the file ledger; nothing survives the process.
import { checkFilter, matchesFilter, type UsageFilter, type UsageLedger } from './usage_ledger.ts';
import { UsageRecordSchema, type UsageRecord } from './usage_record.ts';

export class MemoryUsageLedger implements UsageLedger {
  private readonly records: UsageRecord[] = [];
  private readonly ids = new Set<string>();

  async append(r: UsageRecord): Promise<'written' | 'duplicate'> {
    const record = UsageRecordSchema.parse(r);
    if (this.ids.has(record.request_id)) return 'duplicate';
    this.ids.add(record.request_id);
    this.records.push(record);
    return 'written';
  }

  async read(filter: UsageFilter = {}): Promise<UsageRecord[]> {
    checkFilter(filter);
    return this.records.filter((r) => matchesFilter(r, filter)).map((r) => ({ ...r }));
  }
}
