// KeyStore backed by `keys.json` in the data dir. Every change rewrites the file atomically
// (mode 0600); a running gateway re-reads it when it changes, so keys created or revoked with
// `sirocco keys` take effect without a restart: within a second, at once for a new key.
//
// Writers (the CLI, admin endpoints) take keys.json.lock for each change and re-read the file
// under it, so concurrent writers in any number of processes never lose a change.
import { createHmac } from 'node:crypto';
import { mkdir, open } from 'node:fs/promises';
import { join } from 'node:path';
import { z } from 'zod';
import { looksLikeApiKey } from './api_key.ts';
import { acquirePidLock } from '../../util/pid_lock.ts';
import { writeFileAtomic } from './atomic_write.ts';
import { KeyRecordSchema, type KeyLimits, type KeyOptions, type KeyRecord, type KeyStore } from './key_store.ts';
import { HmacMemo } from './hmac_memo.ts';
import { copyRecord, KeyTable } from './key_table.ts';

export const KEYS_FILE = 'keys.json';

const KeysFileSchema = z.strictObject({
  version: z.literal(1),
  // HMAC of a fixed label under the server secret: catches a CLI run with another secret
  // (say, SIROCCO_KEY_SECRET unset) before it writes keys the gateway could never verify.
  secret_check: z.string().regex(/^[0-9a-f]{64}$/),
  keys: z.array(KeyRecordSchema),
});

const OptionsSchema = z.strictObject({
  now: z.custom<() => Date>((v) => typeof v === 'function', 'now must be a function').optional(),
  clockMs: z.custom<() => number>((v) => typeof v === 'function', 'clockMs must be a function').optional(),
  recheckMs: z.number().int().nonnegative().optional(),
  onWarning: z.custom<(message: string) => void>((v) => typeof v === 'function', 'onWarning must be a function').optional(),
});
export type FileKeyStoreOptions = z.infer<typeof OptionsSchema>;

// Identity of one version of the file; rename gives every rewrite a new inode.
type Signature = string;
type Snapshot = { signature: Signature | null; records: KeyRecord[]; secretCheck: string | null };

function secretCheckOf(secret: Buffer): string {
  return createHmac('sha256', secret).update('sirocco keys.json secret check v1').digest('hex');
}

async function readSnapshot(path: string): Promise<Snapshot> {
  let fh;
  try {
    fh = await open(path, 'r');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return { signature: null, records: [], secretCheck: null };
    throw err;
  }
  try {
    // Stat and read through one descriptor, so the signature belongs to the bytes we parse.
    const st = await fh.stat();
    const text = await fh.readFile('utf8');
    const parsed = KeysFileSchema.safeParse(JSON.parse(text));
    if (!parsed.success) throw new Error(`${path} is not a valid keys file: ${parsed.error.issues[0]?.message ?? 'invalid'}`);
    return { signature: `${st.ino}:${st.mtimeMs}:${st.size}`, records: parsed.data.keys, secretCheck: parsed.data.secret_check };
  } finally {
    await fh.close();
  }
}

export class FileKeyStore implements KeyStore {
  private table: KeyTable;
  private readonly hmacs: HmacMemo;
  private signature: Signature | null = null;
  private generation = 0; // bumped by every adopt, so a slow refresh cannot undo a newer write
  private lastCheck = Number.NEGATIVE_INFINITY;
  private refreshing: Promise<void> | null = null;
  private writes: Promise<unknown> = Promise.resolve();
  private readonly path: string;
  private readonly secretCheck: string;
  private readonly now: () => Date;
  private readonly clockMs: () => number;
  private readonly recheckMs: number;
  private readonly warn: (message: string) => void;

  private constructor(dataDir: string, private readonly secret: Buffer, opts: FileKeyStoreOptions) {
    this.path = join(dataDir, KEYS_FILE);
    this.hmacs = new HmacMemo(secret);
    this.table = new KeyTable(secret, [], this.hmacs);
    this.secretCheck = secretCheckOf(secret);
    this.now = opts.now ?? (() => new Date());
    this.clockMs = opts.clockMs ?? (() => performance.now());
    this.recheckMs = opts.recheckMs ?? 1000;
    this.warn = opts.onWarning ?? ((m) => process.stderr.write(`sirocco keys: ${m}\n`));
  }

  /** Opens (or starts) the store in `dataDir`. Throws if keys.json is unreadable or was written under another secret. */
  static async open(dataDir: string, secret: Buffer, options: FileKeyStoreOptions = {}): Promise<FileKeyStore> {
    if (secret.length < 32) throw new Error('key secret must be at least 32 bytes');
    const store = new FileKeyStore(dataDir, secret, OptionsSchema.parse(options));
    await mkdir(dataDir, { recursive: true, mode: 0o700 });
    store.adopt(await readSnapshot(store.path));
    store.lastCheck = store.clockMs();
    return store;
  }

  get file(): string {
    return this.path;
  }

  async create(name: string, limits?: Partial<KeyLimits>, options?: KeyOptions): Promise<{ record: KeyRecord; key: string }> {
    return this.mutate((table) => {
      const minted = table.mint(name, limits, this.now(), options);
      return { records: [...table.records(), minted.record], result: { record: copyRecord(minted.record), key: minted.key } };
    });
  }

  async verify(key: string): Promise<KeyRecord | null> {
    await this.refresh(false);
    let record = this.table.find(key);
    // A key created a moment ago by the CLI: look at the file now rather than within a second.
    if (record === null && looksLikeApiKey(key)) {
      await this.refresh(true);
      record = this.table.find(key);
    }
    return record && record.revoked_at === null ? record : null;
  }

  async revoke(id: string): Promise<boolean> {
    return this.mutate((table) => {
      const r = table.get(id);
      if (!r) return { records: null, result: false };
      if (r.revoked_at !== null) return { records: null, result: true };
      const revoked = { ...r, revoked_at: this.now().toISOString() };
      return { records: table.records().map((x) => (x.id === id ? revoked : x)), result: true };
    });
  }

  async list(): Promise<KeyRecord[]> {
    await this.refresh(false);
    return this.table.records();
  }

  async get(id: string): Promise<KeyRecord | null> {
    await this.refresh(false);
    return this.table.get(id);
  }

  // Install a snapshot read from disk. Throws (keeping the old state) if another secret wrote it.
  private adopt(snap: Snapshot): void {
    if (snap.secretCheck !== null && snap.secretCheck !== this.secretCheck) {
      throw new Error(
        `${this.path} was written under a different server secret: use the gateway's secret (SIROCCO_KEY_SECRET or the data dir's 'secret' file)`,
      );
    }
    this.table = new KeyTable(this.secret, snap.records, this.hmacs);
    this.signature = snap.signature;
    this.generation++;
  }

  // Re-read keys.json if it changed; unless forced, at most once per recheckMs. A bad file
  // seen by a running gateway is reported and ignored: the last good keys stay in force.
  private async refresh(force: boolean): Promise<void> {
    if (this.refreshing) return this.refreshing;
    if (!force && this.clockMs() - this.lastCheck < this.recheckMs) return;
    this.lastCheck = this.clockMs();
    this.refreshing = (async () => {
      try {
        const fh = await open(this.path, 'r').catch((err: NodeJS.ErrnoException) => {
          if (err.code === 'ENOENT') return null;
          throw err;
        });
        if (fh !== null) {
          const st = await fh.stat().finally(() => fh.close());
          if (`${st.ino}:${st.mtimeMs}:${st.size}` === this.signature) return;
        } else if (this.signature === null) return;
        const generation = this.generation;
        const snap = await readSnapshot(this.path);
        if (generation === this.generation) this.adopt(snap);
      } catch (err) {
        this.warn(`keeping the keys already loaded: ${(err as Error).message}`);
      } finally {
        this.refreshing = null;
      }
    })();
    return this.refreshing;
  }

  // One change at a time, across processes too (keys.json.lock: two `sirocco keys create` at
  // once must not lose a key): re-read the file (strictly: an unreadable file is never
  // overwritten), apply `change`, write the result atomically, then install it in memory.
  private mutate<T>(change: (table: KeyTable) => { records: KeyRecord[] | null; result: T }): Promise<T> {
    const run = async (): Promise<T> => {
      const release = await acquirePidLock(`${this.path}.lock`, { pollMs: 5 });
      try {
        this.adopt(await readSnapshot(this.path));
        const { records, result } = change(this.table);
        if (records === null) return result;
        const body = { version: 1, secret_check: this.secretCheck, keys: records } satisfies z.infer<typeof KeysFileSchema>;
        await writeFileAtomic(this.path, JSON.stringify(body, null, 2) + '\n', 0o600);
        this.adopt(await readSnapshot(this.path));
        return result;
      } finally {
        await release();
      }
    };
    const done = this.writes.then(run, run);
    this.writes = done.catch(() => {});
    return done;
  }
}
