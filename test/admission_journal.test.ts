// The embedded admission journal (issue 11): what a restart finds in it are the admissions
// still open, each once, however many requests came and went (it compacts itself).
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, expect, it } from 'vitest';
import { FileAdmissionJournal } from '../src/gateway/ledger/file_admission_journal.ts';
import type { UsageRecord } from '../src/gateway/ledger/usage_record.ts';

const dirs: string[] = [];
afterAll(async () => Promise.all(dirs.map((d) => rm(d, { recursive: true, force: true }))));
async function tempDir(): Promise<string> {
  const d = await mkdtemp(join(tmpdir(), 'sirocco-admissions-'));
  dirs.push(d);
  return d;
}

let seq = 0;
const rec = (): UsageRecord => {
  const at = new Date().toISOString();
  return { request_id: `req_${++seq}`, key_id: 'key_aaaaaaaaaaaa', model: 'm', endpoint: 'completions', status: 'interrupted', prompt_tokens: 3, cached_tokens: 0, completion_tokens: 0, n: 1, node: null, started_at: at, finished_at: at, error: null, cost: null, batch_id: null };
};

it('rewrites itself with only the open admissions once enough are closed', async () => {
  const dir = await tempDir();
  const journal = await FileAdmissionJournal.open(dir, { compactAfter: 100 });
  const admissions = Array.from({ length: 300 }, rec);
  await Promise.all(admissions.slice(0, 200).map((a) => journal.open(a)));
  for (const a of admissions.slice(0, 150)) journal.close(a.request_id); // compaction at the 100th
  await Promise.all(admissions.slice(200).map((a) => journal.open(a))); // into the compacted file
  await journal.closeJournal();
  const lines = (await readFile(join(dir, 'admissions.jsonl'), 'utf8')).trim().split('\n');
  expect(lines.length).toBeLessThan(300);
  // What a restart finds: every admission still open, each once; the closed ones compacted away.
  const next = await FileAdmissionJournal.open(dir);
  const orphans = (await next.orphans()).map((o) => o.request_id);
  expect(new Set(orphans).size).toBe(orphans.length);
  for (const a of admissions.slice(150)) expect(orphans).toContain(a.request_id);
  expect(orphans.filter((id) => admissions.slice(0, 100).some((a) => a.request_id === id))).toEqual([]);
  await next.forget(orphans);
  expect(await (await FileAdmissionJournal.open(dir)).orphans()).toEqual([]);
});
