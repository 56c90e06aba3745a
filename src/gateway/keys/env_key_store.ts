// A key store that also accepts one key given in the environment (SIROCCO_API_KEY), for the
// embedded `npm start` and for deployments that inject a single key. The key is held only
// as its HMAC, like every other key; everything else goes to the wrapped store.
import { randomBytes } from 'node:crypto';
import { constantTimeEqual, hmacKey } from './api_key.ts';
import { UNLIMITED, type KeyRecord, type KeyStore } from './key_store.ts';

export const API_KEY_ENV = 'SIROCCO_API_KEY';

export class EnvKeyStore implements KeyStore {
  private readonly secret = randomBytes(32);
  private readonly hmac: string;
  private readonly record: KeyRecord;

  constructor(
    private readonly inner: KeyStore,
    key: string,
  ) {
    if (key.length < 16) throw new Error(`${API_KEY_ENV} must be at least 16 characters`);
    this.hmac = hmacKey(this.secret, key);
    this.record = {
      id: 'key_environment',
      name: API_KEY_ENV,
      hmac: this.hmac,
      created_at: new Date().toISOString(),
      revoked_at: null,
      limits: { ...UNLIMITED },
      admin: false, // the injected key is a client's: admin keys come from 'sirocco keys create --admin'
    };
  }

  create(...args: Parameters<KeyStore['create']>) {
    return this.inner.create(...args);
  }

  async verify(key: string): Promise<KeyRecord | null> {
    if (constantTimeEqual(hmacKey(this.secret, key), this.hmac)) return this.record;
    return this.inner.verify(key);
  }

  revoke(id: string) {
    return this.inner.revoke(id);
  }

  async list(): Promise<KeyRecord[]> {
    return [this.record, ...(await this.inner.list())];
  }

  async get(id: string): Promise<KeyRecord | null> {
    return id === this.record.id ? this.record : this.inner.get(id);
  }
}
