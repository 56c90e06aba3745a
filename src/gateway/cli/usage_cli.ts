// `sirocco usage`: totals from the usage ledger per key, model and kind (interactive or a
// Batch API job's), as a table or JSON. Reads
// the store's ledger without modifying it (usage.jsonl, or PostgreSQL with --store /
// $SIROCCO_DATABASE_URL), so it is safe to run beside live gateways.
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { z } from 'zod';
import { readUsageFile, USAGE_FILE } from '../ledger/ledger_file.ts';
import { summarizeUsage, type UsageTotals } from '../ledger/usage_summary.ts';
import { databaseUrl, openStore } from '../store/gateway_store.ts';
import { describeIssue, formatTable } from './cli_support.ts';
import { resolveDataDir } from './data_dir.ts';

const USAGE = `usage: sirocco usage [--key ID] [--batch ID] [--since T] [--json] [--data DIR | --store URL]

Requests and tokens per key, model and kind (interactive, or batch: lines of /v1/batches
jobs), from DIR/usage.jsonl or the PostgreSQL store.

  --key ID      only this key
  --batch ID    only the lines of this batch job (batch_…)
  --since T     only requests started since T: a duration back from now (30m, 24h, 7d, 2w)
                or an ISO date/time (2026-11-24 is UTC midnight; add Z or an offset to a time)
  --json        print JSON instead of a table
  --data DIR    data directory (default: $SIROCCO_DATA_DIR, else ~/.sirocco)
  --store URL   postgres://… the gateways share (default: $SIROCCO_DATABASE_URL)
`;

const UNIT_MS = { s: 1_000, m: 60_000, h: 3_600_000, d: 86_400_000, w: 604_800_000 } as const;

/** `24h`, `7d`, `30m`… back from `now`, or an ISO date or date-time. Null if neither. */
export function parseSince(text: string, now: Date): Date | null {
  const relative = /^(\d{1,9})([smhdw])$/.exec(text.trim());
  if (relative) return new Date(now.getTime() - Number(relative[1]) * UNIT_MS[relative[2] as keyof typeof UNIT_MS]);
  const iso = z.union([z.iso.date(), z.iso.datetime({ offset: true, local: true })]).safeParse(text.trim());
  if (!iso.success) return null;
  const d = new Date(iso.data);
  return Number.isNaN(d.getTime()) ? null : d;
}

const Args = z.strictObject({
  key: z.string().min(1, 'expects a key id').optional(),
  batch: z.string().min(1, 'expects a batch id').optional(),
  since: z.string().optional(),
  json: z.boolean().optional(),
  data: z.string().min(1, 'expects a directory').optional(),
  store: z.string().min(1, 'expects a postgres:// URL').optional(),
});

function fail(message: string): number {
  process.stderr.write(`sirocco usage: ${message}\n\n${USAGE}`);
  return 1;
}

function cells(t: UsageTotals): string[] {
  const s = t.by_status;
  return [...[t.requests, s.ok, s.aborted, s.failed, s.rejected, s.interrupted, t.prompt_tokens, t.cached_tokens, t.completion_tokens, t.total_tokens].map(String), `$${t.cost.toFixed(6)}`];
}

export async function runUsage(argv: string[], now: Date = new Date()): Promise<number> {
  let values;
  try {
    values = parseArgs({
      args: argv,
      options: {
        key: { type: 'string' },
        batch: { type: 'string' },
        since: { type: 'string' },
        json: { type: 'boolean' },
        data: { type: 'string' },
        store: { type: 'string' },
        help: { type: 'boolean', short: 'h' },
      },
      strict: true,
    }).values;
  } catch (err) {
    return fail((err as Error).message);
  }
  const { help, ...flags } = values;
  if (help) {
    process.stdout.write(USAGE);
    return 0;
  }
  const args = Args.safeParse(flags);
  if (!args.success) return fail(describeIssue(args.error, 'usage'));
  const since = args.data.since === undefined ? undefined : parseSince(args.data.since, now);
  if (since === null) return fail(`--since: '${args.data.since}' is neither a duration (30m, 24h, 7d) nor an ISO date/time`);

  const dir = resolveDataDir(args.data.data);
  const url = databaseUrl(args.data.store);
  const filter = { keyId: args.data.key, batchId: args.data.batch, since };
  let records;
  if (url === null) records = await readUsageFile(dir, filter);
  else {
    const store = await openStore({ dataDir: dir, databaseUrl: url });
    records = await store.ledger.read(filter).finally(() => store.close());
  }
  const summary = summarizeUsage(records);
  if (args.data.json) {
    const filter = { key_id: args.data.key ?? null, batch_id: args.data.batch ?? null, since: since?.toISOString() ?? null };
    process.stdout.write(JSON.stringify({ filter, ...summary }, null, 2) + '\n');
    return 0;
  }
  if (summary.rows.length === 0) {
    const file = url === null ? join(dir, USAGE_FILE) : 'the database';
    process.stderr.write(args.data.key || args.data.batch || since ? `no requests in ${file} match the filter\n` : `no requests recorded in ${file}\n`);
    return 0;
  }
  const headers = ['KEY', 'MODEL', 'KIND', 'REQUESTS', 'OK', 'ABORTED', 'FAILED', 'REJECTED', 'INTERRUPTED', 'PROMPT', 'CACHED', 'COMPLETION', 'TOTAL', 'COST'];
  const rows = summary.rows.map((r) => [r.key_id, r.model, r.kind, ...cells(r)]);
  rows.push(['TOTAL', '', '', ...cells(summary.totals)]);
  process.stdout.write(formatTable(headers, rows, new Set(headers.map((_, i) => i).filter((i) => i >= 3))));
  return 0;
}
