// KeyStore held in process memory: for tests and embedded gateways. Same semantics as the
// file store (HMAC only, revoke is permanent), nothing survives the process.
import { randomBytes } from 'node:crypto';
import type { KeyLimits, KeyOptions, KeyRecord, KeyStore } from './key_store.ts';
import { copyRecord, KeyTable } from './key_table.ts';

export class MemoryKeyStore implements KeyStore {
  private readonly table: KeyTable;
  private readonly now: () => Date;

  /** `secret` defaults to 32 random bytes: keys then cannot outlive this instance anyway. */
  constructor(opts: { secret?: Buffer; now?: () => Date } = {}) {
    this.table = new KeyTable(opts.secret ?? randomBytes(32));
    this.now = opts.now ?? (() => new Date());
  }

  async create(name: string, limits?: Partial<KeyLimits>, options?: KeyOptions): Promise<{ record: KeyRecord; key: string }> {
    const minted = this.table.mint(name, limits, this.now(), options);
    this.table.put(minted.record);
    return { record: copyRecord(minted.record), key: minted.key };
  }

  async verify(key: string): Promise<KeyRecord | null> {
    const r = this.table.find(key);
    return r && r.revoked_at === null ? r : null;
  }

  async revoke(id: string): Promise<boolean> {
    const r = this.table.get(id);
    if (!r) return false;
    if (r.revoked_at === null) this.table.put({ ...r, revoked_at: this.now().toISOString() });
    return true;
  }

  async list(): Promise<KeyRecord[]> {
    return this.table.records();
  }

  async get(id: string): Promise<KeyRecord | null> {
    return this.table.get(id);
  }
}
