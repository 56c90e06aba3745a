// Reading usage.jsonl. A line counts once its '\n' is on disk: a tail without one is a write
// cut short by a crash (or, seen from another process, still in progress) and is skipped with
// a warning, never an error. Read in chunks, so opening a large ledger does not load it whole.
import { open } from 'node:fs/promises';
import { join } from 'node:path';
import { checkFilter, matchesFilter, type UsageFilter } from './usage_ledger.ts';
import { UsageRecordSchema, type UsageRecord } from './usage_record.ts';

export const USAGE_FILE = 'usage.jsonl';

export type ScanResult = {
  /** Bytes up to and including the last '\n': the committed part of the file. */
  committedBytes: number;
  /** Bytes after it: a torn last line. */
  tornBytes: number;
};

const CHUNK = 1 << 16;

/**
 * Calls `onRecord` for each valid committed line of `path` (in file order, up to `limitBytes`).
 * Invalid lines and a torn tail are reported through `warn`. Null if the file does not exist.
 */
export async function scanLedgerFile(
  path: string,
  onRecord: (r: UsageRecord) => void,
  warn: (message: string) => void,
  limitBytes = Number.POSITIVE_INFINITY,
): Promise<ScanResult | null> {
  let fh;
  try {
    fh = await open(path, 'r');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw err;
  }
  let lineNo = 0;
  const handleLine = (text: string): void => {
    lineNo++;
    if (text.trim() === '') return;
    let json: unknown;
    try {
      json = JSON.parse(text);
    } catch {
      warn(`${path} line ${lineNo}: not JSON, skipped`);
      return;
    }
    const parsed = UsageRecordSchema.safeParse(json);
    if (parsed.success) onRecord(parsed.data);
    else warn(`${path} line ${lineNo}: invalid usage record (${parsed.error.issues[0]?.message ?? 'invalid'}), skipped`);
  };

  try {
    const buf = Buffer.allocUnsafe(CHUNK);
    let carry: Buffer[] = [];
    let position = 0;
    let committed = 0;
    while (position < limitBytes) {
      const { bytesRead } = await fh.read(buf, 0, Math.min(CHUNK, limitBytes - position), position);
      if (bytesRead === 0) break;
      const chunk = buf.subarray(0, bytesRead);
      let start = 0;
      for (let nl = chunk.indexOf(0x0a, start); nl !== -1; nl = chunk.indexOf(0x0a, start)) {
        const piece = chunk.subarray(start, nl);
        handleLine((carry.length > 0 ? Buffer.concat([...carry, piece]) : piece).toString('utf8'));
        carry = [];
        start = nl + 1;
        committed = position + start;
      }
      // The buffer is reused for the next chunk: keep a copy of the unfinished line.
      if (start < chunk.length) carry.push(Buffer.from(chunk.subarray(start)));
      position += bytesRead;
    }
    const tornBytes = position - committed;
    if (tornBytes > 0) {
      warn(`${path}: skipped an incomplete last line (${tornBytes} bytes): a write was interrupted or is in progress`);
    }
    return { committedBytes: committed, tornBytes };
  } finally {
    await fh.close();
  }
}

/** The records of `dataDir/usage.jsonl` matching `filter`, read-only: safe beside a running gateway. */
export async function readUsageFile(
  dataDir: string,
  filter: UsageFilter = {},
  warn: (message: string) => void = (m) => process.stderr.write(`sirocco usage: ${m}\n`),
): Promise<UsageRecord[]> {
  checkFilter(filter);
  const out: UsageRecord[] = [];
  await scanLedgerFile(join(dataDir, USAGE_FILE), (r) => matchesFilter(r, filter) && out.push(r), warn);
  return out;
}
