// Usage ledger: the shared UsageLedger conformance suite (memory and file), the file ledger's
// durability rules (torn lines, re-open, order under concurrency), the summary, `sirocco usage`.
import { execFile } from 'node:child_process';
import { constants } from 'node:fs';
import { appendFile, mkdtemp, open, readdir, readFile, readlink, realpath, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { parseSince, runUsage } from '../src/gateway/cli/usage_cli.ts';
import { FileUsageLedger } from '../src/gateway/ledger/file_usage_ledger.ts';
import { readUsageFile } from '../src/gateway/ledger/ledger_file.ts';
import { MemoryUsageLedger } from '../src/gateway/ledger/memory_usage_ledger.ts';
import type { UsageLedger } from '../src/gateway/ledger/usage_ledger.ts';
import type { UsageRecord } from '../src/gateway/ledger/usage_record.ts';
import { summarizeUsage } from '../src/gateway/ledger/usage_summary.ts';

const dirs: string[] = [];
const opened: FileUsageLedger[] = [];
async function tempDir(): Promise<string> {
  const d = await mkdtemp(join(tmpdir(), 'sirocco-ledger-'));
  dirs.push(d);
  return d;
}
async function openLedger(dir: string, warnings: string[] = []): Promise<FileUsageLedger> {
  const l = await FileUsageLedger.open(dir, { onWarning: (m) => warnings.push(m) });
  opened.push(l);
  return l;
}
afterAll(async () => {
  await Promise.all(opened.map((l) => l.close().catch(() => {})));
  await Promise.all(dirs.map((d) => rm(d, { recursive: true, force: true })));
});

let seq = 0;
function rec(over: Partial<UsageRecord> = {}): UsageRecord {
  seq++;
  return {
    request_id: `req_${seq}`,
    key_id: 'key_aaaaaaaaaaaa',
    model: 'mistral-tiny',
    endpoint: 'chat.completions',
    status: 'ok',
    prompt_tokens: 10,
    cached_tokens: 4,
    completion_tokens: 5,
    n: 1,
    node: 'node-1',
    started_at: '2026-11-24T10:00:00.000Z',
    finished_at: '2026-11-24T10:00:01.000Z',
    error: null,
    cost: null,
    batch_id: null,
    ...over,
  };
}

const implementations: Array<[string, () => Promise<UsageLedger>]> = [
  ['MemoryUsageLedger', async () => new MemoryUsageLedger()],
  ['FileUsageLedger', async () => openLedger(await tempDir())],
];

describe.each(implementations)('UsageLedger conformance: %s', (_name, make) => {
  let ledger: UsageLedger;
  beforeEach(async () => {
    ledger = await make();
  });

  it('appends and reads back records in order', async () => {
    const a = rec();
    const b = rec({ status: 'failed', error: 'node lost', completion_tokens: 0 });
    expect(await ledger.append(a)).toBe('written');
    expect(await ledger.append(b)).toBe('written');
    expect(await ledger.read()).toEqual([a, b]);
  });

  it('does not write a request_id twice', async () => {
    const a = rec();
    expect(await ledger.append(a)).toBe('written');
    expect(await ledger.append({ ...a, completion_tokens: 99 })).toBe('duplicate');
    expect(await ledger.read()).toEqual([a]);
  });

  it('keeps call order for concurrent appends, duplicates included', async () => {
    const records = Array.from({ length: 50 }, () => rec());
    const results = await Promise.all([...records, records[3]!, records[10]!].map((r) => ledger.append(r)));
    expect(results.slice(0, 50).every((r) => r === 'written')).toBe(true);
    expect(results.slice(50)).toEqual(['duplicate', 'duplicate']);
    expect((await ledger.read()).map((r) => r.request_id)).toEqual(records.map((r) => r.request_id));
  });

  it('filters by key and by start time', async () => {
    const a = rec({ key_id: 'key_a', started_at: '2026-11-20T00:00:00.000Z' });
    const b = rec({ key_id: 'key_b', started_at: '2026-11-22T00:00:00.000Z' });
    const c = rec({ key_id: 'key_a', started_at: '2026-11-23T00:00:00.000Z' });
    for (const r of [a, b, c]) await ledger.append(r);
    expect(await ledger.read({ keyId: 'key_a' })).toEqual([a, c]);
    expect(await ledger.read({ since: new Date('2026-11-22T00:00:00.000Z') })).toEqual([b, c]);
    expect(await ledger.read({ keyId: 'key_a', since: new Date('2026-11-21T00:00:00Z') })).toEqual([c]);
    await expect(ledger.read({ since: new Date('nonsense') })).rejects.toThrow(/invalid date/);
  });

  it('rejects invalid records and records nothing for them', async () => {
    await expect(ledger.append({ ...rec(), status: 'great' } as unknown as UsageRecord)).rejects.toThrow();
    await expect(ledger.append(rec({ prompt_tokens: -1 }))).rejects.toThrow();
    await expect(ledger.append(rec({ prompt_tokens: 3, cached_tokens: 4 }))).rejects.toThrow(/cached_tokens/);
    await expect(ledger.append(rec({ finished_at: 'yesterday' }))).rejects.toThrow();
    expect(await ledger.read()).toEqual([]);
  });
});

describe('FileUsageLedger on disk', () => {
  it('writes one JSON line per record, mode 0600, and a new instance refuses old request ids', async () => {
    const dir = await tempDir();
    const first = await openLedger(dir);
    const a = rec();
    await first.append(a);
    await first.append(rec());
    const lines = (await readFile(join(dir, 'usage.jsonl'), 'utf8')).split('\n');
    expect(lines).toHaveLength(3);
    expect(lines[2]).toBe('');
    expect(JSON.parse(lines[0]!)).toEqual(a);
    expect((await stat(join(dir, 'usage.jsonl'))).mode & 0o777).toBe(0o600);
    await first.close();
    const second = await openLedger(dir);
    expect(await second.append(a)).toBe('duplicate');
    expect(await second.read()).toHaveLength(2);
  });

  it('writes through an O_DSYNC descriptor, so an append has reached the disk when it resolves', async () => {
    const dir = await tempDir();
    const ledger = await openLedger(dir);
    // The kernel's view of the ledger's open file: its descriptor under /proc/self/fd, and
    // that descriptor's status flags (octal) in /proc/self/fdinfo.
    const path = join(dir, 'usage.jsonl');
    const fds = await readdir('/proc/self/fd');
    const targets = await Promise.all(fds.map((fd) => readlink(`/proc/self/fd/${fd}`).catch(() => '')));
    const fd = fds[targets.indexOf(await realpath(path))];
    expect(fd).toBeDefined();
    const flags = parseInt(/^flags:\s+([0-7]+)$/m.exec(await readFile(`/proc/self/fdinfo/${fd}`, 'utf8'))![1]!, 8);
    expect(flags & constants.O_DSYNC).toBe(constants.O_DSYNC);
    expect(flags & constants.O_APPEND).toBe(constants.O_APPEND);
    const r = rec();
    await ledger.append(r);
    expect(await readFile(path, 'utf8')).toContain(r.request_id);
  });

  it('cuts back a half-written line when a write fails, so the next append lands on its own line', async () => {
    const dir = await tempDir();
    const ledger = await openLedger(dir);
    const a = rec();
    await ledger.append(a);
    const probe = await open(join(dir, 'usage.jsonl'), 'r');
    type Write = (buf: Buffer, offset: number) => Promise<{ bytesWritten: number }>;
    const proto = Object.getPrototypeOf(probe) as { write: Write };
    await probe.close();
    const realWrite = proto.write;
    const write = vi.spyOn(proto, 'write').mockImplementationOnce(async function (this: unknown, buf: Buffer) {
      await realWrite.call(this, buf.subarray(0, 25), 0); // a partial line reaches the disk…
      throw Object.assign(new Error('ENOSPC: no space left on device'), { code: 'ENOSPC' }); // …then the disk fills
    });
    const failed = rec();
    await expect(ledger.append(failed)).rejects.toThrow(/ENOSPC/);
    write.mockRestore();
    expect(await ledger.append(failed)).toBe('written'); // not recorded before, so not a duplicate now
    expect(await readFile(join(dir, 'usage.jsonl'), 'utf8')).toBe(JSON.stringify(a) + '\n' + JSON.stringify(failed) + '\n');
  });

  it('survives a torn last line: read skips it and warns; open cuts it off and appends cleanly', async () => {
    const dir = await tempDir();
    const first = await openLedger(dir);
    const a = rec();
    await first.append(a);
    await first.close();
    const torn = JSON.stringify(rec()).slice(0, 40);
    await appendFile(join(dir, 'usage.jsonl'), torn);

    const readWarnings: string[] = [];
    expect(await readUsageFile(dir, {}, (m) => readWarnings.push(m))).toEqual([a]);
    expect(readWarnings.join('\n')).toMatch(/incomplete last line \(40 bytes\)/);
    expect((await readFile(join(dir, 'usage.jsonl'), 'utf8')).endsWith(torn)).toBe(true); // reading never modifies

    const openWarnings: string[] = [];
    const second = await openLedger(dir, openWarnings);
    expect(openWarnings.join('\n')).toMatch(/removed the incomplete last line/);
    const b = rec();
    expect(await second.append(b)).toBe('written');
    expect(await second.read()).toEqual([a, b]);
    expect(await readFile(join(dir, 'usage.jsonl'), 'utf8')).toBe(JSON.stringify(a) + '\n' + JSON.stringify(b) + '\n');
  });

  it('skips (and reports) a corrupt line in the middle without losing the others', async () => {
    const dir = await tempDir();
    const a = rec();
    const b = rec();
    await writeFile(join(dir, 'usage.jsonl'), `${JSON.stringify(a)}\n{"oops": tru\n${JSON.stringify({ ...b, n: 'x' })}\n${JSON.stringify(b)}\n`);
    const warnings: string[] = [];
    const ledger = await openLedger(dir, warnings);
    expect(await ledger.read()).toEqual([a, b]);
    expect(warnings.some((w) => /line 2: not JSON/.test(w))).toBe(true);
    expect(warnings.some((w) => /line 3: invalid usage record/.test(w))).toBe(true);
    expect(await ledger.append(b)).toBe('duplicate');
  });

  it('reads a ledger larger than one read chunk', async () => {
    const dir = await tempDir();
    const records = Array.from({ length: 600 }, () => rec({ error: 'x'.repeat(200) }));
    await writeFile(join(dir, 'usage.jsonl'), records.map((r) => JSON.stringify(r) + '\n').join(''));
    expect(await readUsageFile(dir)).toEqual(records);
  });

  it('rejects appends after close', async () => {
    const ledger = await openLedger(await tempDir());
    await ledger.close();
    await expect(ledger.append(rec())).rejects.toThrow(/closed/);
  });
});

describe('summarizeUsage', () => {
  it("keeps a batch job's lines apart from interactive requests of the same key and model", () => {
    const s = summarizeUsage([rec({ key_id: 'key_a', batch_id: 'batch_1' }), rec({ key_id: 'key_a' }), rec({ key_id: 'key_a', batch_id: 'batch_2', completion_tokens: 7 })]);
    expect(s.rows.map((r) => [r.kind, r.requests, r.completion_tokens])).toEqual([['interactive', 1, 5], ['batch', 2, 12]]);
  });

  it('totals per (key, model) and overall, by status', () => {
    const s = summarizeUsage([
      rec({ key_id: 'key_b', model: 'm1' }),
      rec({ key_id: 'key_a', model: 'm2', status: 'aborted', completion_tokens: 2, cached_tokens: 0 }),
      rec({ key_id: 'key_a', model: 'm2', status: 'rejected', prompt_tokens: 0, cached_tokens: 0, completion_tokens: 0 }),
      rec({ key_id: 'key_a', model: 'm1' }),
    ]);
    expect(s.rows.map((r) => [r.key_id, r.model, r.requests])).toEqual([
      ['key_a', 'm1', 1],
      ['key_a', 'm2', 2],
      ['key_b', 'm1', 1],
    ]);
    expect(s.rows[1]).toMatchObject({
      by_status: { ok: 0, aborted: 1, failed: 0, rejected: 1, interrupted: 0 },
      prompt_tokens: 10,
      cached_tokens: 0,
      completion_tokens: 2,
      total_tokens: 12,
    });
    expect(s.totals).toMatchObject({ requests: 4, prompt_tokens: 30, cached_tokens: 8, completion_tokens: 12, total_tokens: 42 });
    expect(s.totals.by_status).toEqual({ ok: 2, aborted: 1, failed: 0, rejected: 1, interrupted: 0 });
  });
});

describe('sirocco usage', () => {
  const now = new Date('2026-11-24T12:00:00.000Z');

  it('parses --since as a duration back from now or an ISO date/time', () => {
    expect(parseSince('24h', now)?.toISOString()).toBe('2026-11-23T12:00:00.000Z');
    expect(parseSince('7d', now)?.toISOString()).toBe('2026-11-17T12:00:00.000Z');
    expect(parseSince('30m', now)?.toISOString()).toBe('2026-11-24T11:30:00.000Z');
    expect(parseSince('2026-11-01', now)?.toISOString()).toBe('2026-11-01T00:00:00.000Z');
    expect(parseSince('2026-11-01T06:00:00+02:00', now)?.toISOString()).toBe('2026-11-01T04:00:00.000Z');
    for (const bad of ['yesterday', '24', 'h', '-3h', '2026-13-01', '']) expect(parseSince(bad, now)).toBeNull();
  });

  async function seed(): Promise<string> {
    const dir = await tempDir();
    const ledger = await openLedger(dir);
    await ledger.append(rec({ key_id: 'key_a', started_at: '2026-11-24T11:00:00.000Z' }));
    await ledger.append(rec({ key_id: 'key_a', status: 'failed', completion_tokens: 0, started_at: '2026-11-24T11:30:00.000Z' }));
    await ledger.append(rec({ key_id: 'key_b', model: 'other', started_at: '2026-11-20T00:00:00.000Z' }));
    await ledger.append(rec({ key_id: 'key_a', batch_id: 'batch_000000000000000000000001', started_at: '2026-11-24T11:40:00.000Z' }));
    await ledger.close();
    return dir;
  }

  it('prints a table through the real CLI', async () => {
    const dir = await seed();
    const env = { ...process.env, SIROCCO_DATA_DIR: dir };
    const { stdout } = await promisify(execFile)('node', ['bin/sirocco.js', 'usage'], { env });
    const lines = stdout.trimEnd().split('\n');
    expect(lines[0]).toMatch(/^KEY\s+MODEL\s+KIND\s+REQUESTS\s+OK\s+ABORTED\s+FAILED\s+REJECTED\s+INTERRUPTED\s+PROMPT\s+CACHED\s+COMPLETION\s+TOTAL\s+COST$/);
    expect(lines[1]!.split(/\s+/)).toEqual(['key_a', 'mistral-tiny', 'interactive', '2', '1', '0', '1', '0', '0', '20', '8', '5', '25', '$0.000000']);
    expect(lines[2]!.split(/\s+/)).toEqual(['key_a', 'mistral-tiny', 'batch', '1', '1', '0', '0', '0', '0', '10', '4', '5', '15', '$0.000000']);
    expect(lines[3]!.split(/\s+/)).toEqual(['key_b', 'other', 'interactive', '1', '1', '0', '0', '0', '0', '10', '4', '5', '15', '$0.000000']);
    expect(lines[4]!.split(/\s+/)).toEqual(['TOTAL', '4', '3', '0', '1', '0', '0', '40', '16', '15', '55', '$0.000000']);
  });

  describe('in process', () => {
    let out: string;
    let err: string;
    beforeEach(() => {
      out = '';
      err = '';
      vi.spyOn(process.stdout, 'write').mockImplementation((s) => ((out += String(s)), true));
      vi.spyOn(process.stderr, 'write').mockImplementation((s) => ((err += String(s)), true));
    });
    afterEach(() => vi.restoreAllMocks());

    it('filters by key and since, as JSON', async () => {
      const dir = await seed();
      expect(await runUsage(['--data', dir, '--json', '--key', 'key_a', '--since', '45m'], now)).toBe(0);
      const result = JSON.parse(out);
      expect(result.filter).toEqual({ key_id: 'key_a', batch_id: null, since: '2026-11-24T11:15:00.000Z' });
      expect(result.rows.map((r: { kind: string; requests: number }) => [r.kind, r.requests])).toEqual([['interactive', 1], ['batch', 1]]);
      expect(result.totals).toMatchObject({ requests: 2, by_status: { ok: 1, failed: 1 } });
    });

    it("filters one batch job's lines", async () => {
      const dir = await seed();
      expect(await runUsage(['--data', dir, '--json', '--batch', 'batch_000000000000000000000001'], now)).toBe(0);
      const result = JSON.parse(out);
      expect(result.rows.map((r: { key_id: string; kind: string }) => [r.key_id, r.kind])).toEqual([['key_a', 'batch']]);
      expect(result.totals).toMatchObject({ requests: 1, completion_tokens: 5 });
    });

    it('says so when nothing matches, and exits 1 on bad input', async () => {
      const dir = await seed();
      expect(await runUsage(['--data', dir, '--key', 'key_zzz'], now)).toBe(0);
      expect(err).toMatch(/no requests .* match the filter/);
      expect(await runUsage(['--data', dir, '--since', 'last tuesday'], now)).toBe(1);
      expect(err).toMatch(/--since: 'last tuesday' is neither a duration/);
      expect(await runUsage(['--data', dir, 'extra'], now)).toBe(1);
      expect(await runUsage(['--data', dir, '--key'], now)).toBe(1);
      expect(out).toBe('');
    });

    it('reports an empty data dir without failing', async () => {
      expect(await runUsage(['--data', await tempDir()], now)).toBe(0);
      expect(err).toMatch(/no requests recorded/);
    });
  });
});
