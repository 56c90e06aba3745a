// What this node generated for recent request ids: asked by a gateway reconciling the requests
// a dead gateway left open (gateway/ledger/admission_journal.ts), so they are billed the tokens
// really generated rather than none. Bounded: the oldest ids are forgotten first.
import type { GenerationReport } from '../protocol/internal_api.ts';

const MAX_IDS = 100_000;

export class RecentGenerations {
  private readonly byId = new Map<string, GenerationReport>();

  started(requestId: string): GenerationReport {
    this.byId.delete(requestId); // a retried id starts over, and moves to the newest end
    if (this.byId.size >= MAX_IDS) this.byId.delete(this.byId.keys().next().value!);
    const report = { request_id: requestId, completion_tokens: 0, finished: false };
    this.byId.set(requestId, report);
    return report;
  }

  get(requestId: string): GenerationReport | null {
    const r = this.byId.get(requestId);
    return r ? { ...r } : null;
  }
}
