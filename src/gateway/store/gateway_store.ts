// Where a gateway's shared state lives — API keys, the usage ledger, rate-limit counters, the
// Batch API's files and jobs — and
// how every process that reads or writes it (gateway, `sirocco keys`, `sirocco usage`) picks it
// the same way: --store URL, else $SIROCCO_DATABASE_URL, else the data directory.
//   embedded (default): keys.json + secret + usage.jsonl in the data dir, limits in memory,
//     files/ and batches/ folders: one machine, no server to run (file writes are atomic,
//     ledger appends fsynced);
//   postgres://…: one PostgreSQL for any number of replicas; migrations run at open.
import { join } from 'node:path';
import pg from 'pg';
import { BatchJobs, BATCH_ID, BatchRecord, soleClaims } from '../batches/batch_jobs.ts';
import type { FileBlobs } from '../batches/file_blobs.ts';
import { FILE_ID, FileObjects, FileRecord } from '../batches/file_objects.ts';
import { FolderJobLines } from '../batches/job_lines.ts';
import { RecordFolder } from '../batches/record_folder.ts';
import { FileKeyStore } from '../keys/file_key_store.ts';
import type { KeyStore } from '../keys/key_store.ts';
import { loadServerSecret } from '../keys/server_secret.ts';
import { FileUsageLedger } from '../ledger/file_usage_ledger.ts';
import type { AdmissionJournal } from '../ledger/admission_journal.ts';
import { FileAdmissionJournal } from '../ledger/file_admission_journal.ts';
import type { UsageLedger } from '../ledger/usage_ledger.ts';
import type { LimitCounters } from './limit_counters.ts';
import { PostgresAdmissionJournal } from './postgres_admission_journal.ts';
import { PostgresJobClaims, PostgresJobLines } from './postgres_batch_tables.ts';
import { PostgresKeyStore } from './postgres_key_store.ts';
import { PostgresLimitCounters } from './postgres_limit_counters.ts';
import { PostgresRecordTable } from './postgres_record_table.ts';
import { ensureSchema } from './postgres_schema.ts';
import { PostgresUsageLedger } from './postgres_usage_ledger.ts';

export const DATABASE_URL_ENV = 'SIROCCO_DATABASE_URL';

export type GatewayStore = {
  keys: KeyStore;
  ledger: UsageLedger;
  /** null: this process's memory (the embedded store; limits are per process). */
  counters: LimitCounters | null;
  /**
   * The admission journal, for a gateway only (the embedded one takes over the data dir's
   * journal and treats what it finds as orphans). `owner` names this replica; PostgreSQL
   * replicas silent for `staleMs` have their admissions reconciled by the others.
   */
  openAdmissions(options: { owner: string; staleMs: number }): Promise<AdmissionJournal>;
  /**
   * /v1/files' records (their bytes in `blobs`) and /v1/batches' jobs. A replica that runs a
   * job holds it while it heartbeats (openAdmissions); silent for `staleMs`, it counts as dead.
   */
  openBatches(options: { blobs: FileBlobs; staleMs: number }): Promise<{ files: FileObjects; jobs: BatchJobs }>;
  /** Replicas may share it (PostgreSQL); the embedded store is one gateway's. */
  shared: boolean;
  /** What it is, without credentials: "embedded /path" or "postgres host:port/db". */
  description: string;
  close(): Promise<void>;
};

/** --store, else $SIROCCO_DATABASE_URL; null = the embedded store. */
export function databaseUrl(flag: string | undefined, env: NodeJS.ProcessEnv = process.env): string | null {
  const url = flag ?? env[DATABASE_URL_ENV];
  if (url === undefined || url === '') return null;
  if (!/^postgres(ql)?:\/\//.test(url)) throw new Error(`--store / ${DATABASE_URL_ENV} must be a postgres:// URL (got ${url.split(':')[0]}:…)`);
  return url;
}

const openFileKeys = async (dataDir: string) => FileKeyStore.open(dataDir, await loadServerSecret(dataDir));

/**
 * The keys alone (`sirocco keys`): the embedded store then leaves its ledger unopened (opening
 * it reads the whole usage.jsonl, work a key change does not need).
 */
export async function openKeyStore(options: { dataDir: string; databaseUrl: string | null }): Promise<Pick<GatewayStore, 'keys' | 'description' | 'close'>> {
  if (options.databaseUrl !== null) return openStore(options);
  return { keys: await openFileKeys(options.dataDir), description: `embedded ${options.dataDir}`, close: async () => {} };
}

export async function openStore(options: { dataDir: string; databaseUrl: string | null }): Promise<GatewayStore> {
  if (options.databaseUrl === null) {
    const keys = await openFileKeys(options.dataDir);
    const ledger = await FileUsageLedger.open(options.dataDir);
    let journal: FileAdmissionJournal | null = null;
    return {
      keys,
      ledger,
      counters: null,
      shared: false,
      description: `embedded ${options.dataDir}`,
      openAdmissions: async () => (journal = await FileAdmissionJournal.open(options.dataDir)),
      openBatches: async ({ blobs }) => {
        const batches = join(options.dataDir, 'batches');
        const [files, jobs] = await Promise.all([RecordFolder.open(join(options.dataDir, 'files'), FILE_ID, FileRecord), RecordFolder.open(batches, BATCH_ID, BatchRecord)]);
        return { files: new FileObjects(files, blobs), jobs: new BatchJobs(jobs, new FolderJobLines(batches), soleClaims(jobs)) };
      },
      close: async () => {
        await journal?.closeJournal();
        await ledger.close();
      },
    };
  }
  const connectionString = options.databaseUrl;
  const url = new URL(connectionString);
  const description = `postgres ${url.hostname}:${url.port || 5432}${url.pathname}`;
  // Connections are pooled; one that waits over 10 s for a connection fails the request rather than stalling it.
  const pool = new pg.Pool({ connectionString, max: 10, connectionTimeoutMillis: 10_000, idleTimeoutMillis: 30_000 });
  pool.on('error', () => {}); // an idle client's broken connection: the pool replaces it
  try {
    await ensureSchema(pool);
    const keys = await PostgresKeyStore.open(pool);
    let journal: PostgresAdmissionJournal | null = null;
    return {
      keys,
      ledger: new PostgresUsageLedger(pool),
      counters: new PostgresLimitCounters(pool),
      shared: true,
      description,
      openAdmissions: async ({ owner, staleMs }) => (journal = new PostgresAdmissionJournal(connectionString, owner, staleMs)),
      openBatches: async ({ blobs, staleMs }) => ({
        files: new FileObjects(new PostgresRecordTable(pool, 'sirocco_files', FileRecord), blobs),
        jobs: new BatchJobs(new PostgresRecordTable(pool, 'sirocco_batches', BatchRecord), new PostgresJobLines(pool), new PostgresJobClaims(pool, staleMs)),
      }),
      close: async () => {
        await journal?.closeJournal();
        await pool.end();
      },
    };
  } catch (err) {
    await pool.end().catch(() => undefined);
    throw new Error(`cannot open the store at ${description}: ${(err as Error).message}`);
  }
}
