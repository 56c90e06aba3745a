// The in-memory state shared by every KeyStore implementation: records by id, and an index
// by HMAC so that verify is one hash and one Map lookup, whatever the number of keys.
import { constantTimeEqual, generateApiKey, generateKeyId, hmacKey, looksLikeApiKey } from './api_key.ts';
import { HmacMemo } from './hmac_memo.ts';
import { KeyLimitsSchema, KeyNameSchema, UNLIMITED, type KeyLimits, type KeyOptions, type KeyRecord } from './key_store.ts';

// Records leave the table as copies: a caller that edits one must not edit the store.
export function copyRecord(r: KeyRecord): KeyRecord {
  return { ...r, limits: { ...r.limits } };
}

export class KeyTable {
  private readonly byId = new Map<string, KeyRecord>();
  private readonly byHmac = new Map<string, KeyRecord>();

  // The memo outlives a table: a store that re-reads its file passes its memo to the new one.
  constructor(
    private readonly secret: Buffer,
    records: readonly KeyRecord[] = [],
    private readonly memo = new HmacMemo(secret),
  ) {
    if (secret.length < 32) throw new Error('key secret must be at least 32 bytes');
    for (const r of records) this.put(r);
  }

  /**
   * A new record and its key, not yet in the table: file-backed stores write it to disk
   * first and insert it only once it is durable. Throws on an invalid name or limits.
   */
  mint(name: string, limits: Partial<KeyLimits> | undefined, now: Date, options: KeyOptions = {}): { record: KeyRecord; key: string } {
    const cleanName = KeyNameSchema.parse(name);
    const cleanLimits = KeyLimitsSchema.parse({ ...UNLIMITED, ...limits });
    let id = generateKeyId();
    while (this.byId.has(id)) id = generateKeyId();
    const key = generateApiKey();
    const record: KeyRecord = {
      id,
      name: cleanName,
      hmac: hmacKey(this.secret, key),
      created_at: now.toISOString(),
      revoked_at: null,
      limits: cleanLimits,
      admin: options.admin ?? false,
    };
    return { record, key };
  }

  put(record: KeyRecord): void {
    const old = this.byId.get(record.id);
    if (old) this.byHmac.delete(old.hmac);
    this.byId.set(record.id, record);
    this.byHmac.set(record.hmac, record);
  }

  /** The record whose HMAC matches the key, revoked or not; null if none. */
  find(key: string): KeyRecord | null {
    if (!looksLikeApiKey(key)) return null;
    const mac = this.memo.of(key);
    const record = this.byHmac.get(mac);
    // The Map lookup already matched; the constant-time check guards against a future index
    // that matches on a prefix or a truncated hash.
    if (!record || !constantTimeEqual(record.hmac, mac)) return null;
    this.memo.remember(key, mac);
    return copyRecord(record);
  }

  get(id: string): KeyRecord | null {
    const r = this.byId.get(id);
    return r ? copyRecord(r) : null;
  }

  records(): KeyRecord[] {
    return [...this.byId.values()].map(copyRecord);
  }
}
