// API keys: key material, the shared KeyStore conformance suite (memory and file stores),
// the file store's cross-process behaviour, the server secret, and `sirocco keys`.
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtemp, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { runKeys } from '../src/gateway/cli/keys_cli.ts';
import { constantTimeEqual, generateApiKey, generateKeyId, hmacKey, looksLikeApiKey } from '../src/gateway/keys/api_key.ts';
import { FileKeyStore } from '../src/gateway/keys/file_key_store.ts';
import { HmacMemo } from '../src/gateway/keys/hmac_memo.ts';
import type { KeyStore } from '../src/gateway/keys/key_store.ts';
import { MemoryKeyStore } from '../src/gateway/keys/memory_key_store.ts';
import { loadServerSecret } from '../src/gateway/keys/server_secret.ts';

const dirs: string[] = [];
async function tempDir(): Promise<string> {
  const d = await mkdtemp(join(tmpdir(), 'sirocco-keys-'));
  dirs.push(d);
  return d;
}
afterAll(async () => {
  await Promise.all(dirs.map((d) => rm(d, { recursive: true, force: true })));
});

const secret = randomBytes(32);

/** The same key with one character changed: same length, same alphabet. */
function tamper(key: string): string {
  const i = 20;
  return key.slice(0, i) + (key[i] === 'A' ? 'B' : 'A') + key.slice(i + 1);
}

describe('api key material', () => {
  it('generates sk- keys of 43+ base64url characters and key_ ids, all distinct', () => {
    const keys = new Set(Array.from({ length: 200 }, generateApiKey));
    expect(keys.size).toBe(200);
    for (const k of keys) {
      expect(k).toMatch(/^sk-[A-Za-z0-9_-]{43,}$/);
      expect(looksLikeApiKey(k)).toBe(true);
    }
    expect(generateKeyId()).toMatch(/^key_[0-9a-f]{12}$/);
    expect(looksLikeApiKey('sk-short')).toBe(false);
  });

  it('HMACs under the secret and compares in constant time', () => {
    const k = generateApiKey();
    expect(hmacKey(secret, k)).toMatch(/^[0-9a-f]{64}$/);
    expect(hmacKey(secret, k)).toBe(hmacKey(secret, k));
    expect(hmacKey(randomBytes(32), k)).not.toBe(hmacKey(secret, k));
    expect(constantTimeEqual('abc', 'abc')).toBe(true);
    expect(constantTimeEqual('abc', 'abd')).toBe(false);
    expect(constantTimeEqual('abc', 'abcd')).toBe(false);
  });

  it('memoizes the HMACs of found keys only, and at most 4096 of them', () => {
    const memo = new HmacMemo(secret);
    const k = generateApiKey();
    const marker = 'f'.repeat(64); // not k's HMAC: seeing it back proves the memo answered
    expect(memo.of(k)).toBe(hmacKey(secret, k)); // looked at, not found: not remembered
    memo.remember(k, marker);
    expect(memo.of(k)).toBe(marker);
    for (let i = 0; i < 4095; i++) memo.remember(`sk-other-${i}`, 'x'.repeat(64));
    expect(memo.of(k)).toBe(marker); // 4096 keys fit
    memo.remember('sk-one-more', 'x'.repeat(64));
    expect(memo.of(k)).toBe(hmacKey(secret, k)); // the oldest went first
  });
});

type Subject = { store: KeyStore; dir: string | null };
const implementations: Array<[string, () => Promise<Subject>]> = [
  ['MemoryKeyStore', async () => ({ store: new MemoryKeyStore({ secret }), dir: null })],
  [
    'FileKeyStore',
    async () => {
      const dir = await tempDir();
      return { store: await FileKeyStore.open(dir, secret), dir };
    },
  ],
];

describe.each(implementations)('KeyStore conformance: %s', (_name, make) => {
  let s: Subject;
  beforeEach(async () => {
    s = await make();
  });

  it('creates a key starting with sk- that verifies to its record', async () => {
    const { record, key } = await s.store.create('alice');
    expect(key).toMatch(/^sk-[A-Za-z0-9_-]{43,}$/);
    expect(record).toMatchObject({ name: 'alice', revoked_at: null, limits: { requests_per_minute: null, tokens_per_minute: null } });
    expect(record.id).toMatch(/^key_/);
    expect(Date.parse(record.created_at)).not.toBeNaN();
    expect(await s.store.verify(key)).toEqual(record);
  });

  it('does not verify a wrong key of the same length, or garbage', async () => {
    const { key } = await s.store.create('bob');
    const wrong = tamper(key);
    expect(wrong).toHaveLength(key.length);
    expect(wrong).not.toBe(key);
    expect(await s.store.verify(wrong)).toBeNull();
    for (const junk of ['', 'sk-', 'Bearer x', key.slice(3), key + '\n']) expect(await s.store.verify(junk)).toBeNull();
  });

  it('does not verify a revoked key; revoking twice keeps the first revocation time', async () => {
    const { record, key } = await s.store.create('carol');
    const other = await s.store.create('dave');
    expect(await s.store.verify(key)).not.toBeNull(); // found once: its HMAC is memoized
    expect(await s.store.revoke(record.id)).toBe(true);
    expect(await s.store.verify(key)).toBeNull();
    expect(await s.store.verify(other.key)).not.toBeNull();
    const revokedAt = (await s.store.list()).find((r) => r.id === record.id)?.revoked_at;
    expect(revokedAt).toEqual(expect.any(String));
    expect(await s.store.revoke(record.id)).toBe(true);
    expect((await s.store.list()).find((r) => r.id === record.id)?.revoked_at).toBe(revokedAt);
  });

  it('returns false when revoking an unknown id', async () => {
    expect(await s.store.revoke('key_000000000000')).toBe(false);
  });

  it('never lists the raw key', async () => {
    const { key } = await s.store.create('erin');
    const listed = JSON.stringify(await s.store.list());
    expect(listed).not.toContain(key);
    expect(listed).not.toContain(key.slice(3));
  });

  it('stores limits', async () => {
    const { record, key } = await s.store.create('frank', { requests_per_minute: 60, tokens_per_minute: 10_000 });
    expect(record.limits).toEqual({ requests_per_minute: 60, tokens_per_minute: 10_000 });
    expect((await s.store.verify(key))?.limits).toEqual(record.limits);
    expect((await s.store.list())[0]?.limits).toEqual(record.limits);
    const half = await s.store.create('gina', { tokens_per_minute: 5 });
    expect(half.record.limits).toEqual({ requests_per_minute: null, tokens_per_minute: 5 });
  });

  it('rejects an empty name and invalid limits', async () => {
    await expect(s.store.create('  ')).rejects.toThrow();
    await expect(s.store.create('x', { requests_per_minute: 0 })).rejects.toThrow();
    await expect(s.store.create('x', { tokens_per_minute: 1.5 })).rejects.toThrow();
    expect(await s.store.list()).toEqual([]);
  });

  it('hands out copies: editing a returned record changes nothing', async () => {
    const { record, key } = await s.store.create('hal', { requests_per_minute: 5 });
    record.limits.requests_per_minute = 1_000_000;
    (await s.store.list())[0]!.revoked_at = 'x';
    expect((await s.store.verify(key))?.limits.requests_per_minute).toBe(5);
  });

  it('writes keys.json without the raw key, mode 0600, and no temp files (file store)', async () => {
    if (s.dir === null) return;
    const keys = await Promise.all(['a', 'b', 'c'].map((n) => s.store.create(n)));
    const text = await readFile(join(s.dir, 'keys.json'), 'utf8');
    for (const { key, record } of keys) {
      expect(text).not.toContain(key);
      expect(text).not.toContain(key.slice(3));
      expect(text).toContain(record.id);
    }
    expect((await stat(join(s.dir, 'keys.json'))).mode & 0o777).toBe(0o600);
    expect((await readdir(s.dir)).sort()).toEqual(['keys.json']);
  });
});

describe('FileKeyStore across instances', () => {
  it('a second instance on the same dir sees keys the first created, at once', async () => {
    const dir = await tempDir();
    const gateway = await FileKeyStore.open(dir, secret);
    const cli = await FileKeyStore.open(dir, secret);
    const { key, record } = await cli.create('from-cli');
    expect(await gateway.verify(key)).toEqual(record);
    const reopened = await FileKeyStore.open(dir, secret);
    expect(await reopened.verify(key)).toEqual(record);
  });

  it('sees a revocation by another instance after the recheck interval', async () => {
    const dir = await tempDir();
    let clock = 0;
    const gateway = await FileKeyStore.open(dir, secret, { clockMs: () => clock });
    const cli = await FileKeyStore.open(dir, secret);
    const { key, record } = await cli.create('x');
    expect(await gateway.verify(key)).not.toBeNull();
    await cli.revoke(record.id);
    clock += 500;
    expect(await gateway.verify(key)).not.toBeNull(); // checked at most once per second
    clock += 600;
    expect(await gateway.verify(key)).toBeNull();
  });

  it('refuses keys.json written under another secret', async () => {
    const dir = await tempDir();
    await (await FileKeyStore.open(dir, secret)).create('x');
    await expect(FileKeyStore.open(dir, randomBytes(32))).rejects.toThrow(/different server secret/);
  });

  it('keeps the loaded keys (and warns) when keys.json becomes unreadable, and never overwrites it', async () => {
    const dir = await tempDir();
    const warnings: string[] = [];
    const store = await FileKeyStore.open(dir, secret, { recheckMs: 0, onWarning: (m) => warnings.push(m) });
    const { key } = await store.create('x');
    await writeFile(join(dir, 'keys.json'), '{"version": 1, "keys": [tru');
    expect(await store.verify(key)).not.toBeNull();
    expect(warnings.join('\n')).toMatch(/keeping the keys already loaded/);
    await expect(store.create('y')).rejects.toThrow();
    expect(await readFile(join(dir, 'keys.json'), 'utf8')).toBe('{"version": 1, "keys": [tru');
  });

  it('validates its options at open', async () => {
    const dir = await tempDir();
    await expect(FileKeyStore.open(dir, secret, { recheckMs: -1 })).rejects.toThrow();
    await expect(FileKeyStore.open(dir, Buffer.alloc(8))).rejects.toThrow(/32 bytes/);
  });
});

describe('loadServerSecret', () => {
  it('uses SIROCCO_KEY_SECRET when set, and refuses one shorter than 32 characters', async () => {
    const dir = await tempDir();
    const value = 'x'.repeat(40);
    expect((await loadServerSecret(dir, { SIROCCO_KEY_SECRET: value })).toString()).toBe(value);
    await expect(loadServerSecret(dir, { SIROCCO_KEY_SECRET: 'short' })).rejects.toThrow(/at least 32/);
    expect(await readdir(dir)).toEqual([]);
  });

  it('otherwise creates dataDir/secret once (32 bytes, mode 0600) and reads it back after', async () => {
    const dir = join(await tempDir(), 'nested');
    const [a, b] = await Promise.all([loadServerSecret(dir, {}), loadServerSecret(dir, {})]);
    expect(a.length).toBe(32);
    expect(b.equals(a)).toBe(true);
    expect((await loadServerSecret(dir, {})).equals(a)).toBe(true);
    expect((await stat(join(dir, 'secret'))).mode & 0o777).toBe(0o600);
    expect(await readdir(dir)).toEqual(['secret']);
  });
});

describe('sirocco keys', () => {
  const childEnv = { ...process.env };
  delete childEnv.SIROCCO_KEY_SECRET;
  delete childEnv.SIROCCO_DATA_DIR;

  it('creates a key through the real CLI: the key alone on stdout, id and warning on stderr', async () => {
    const dir = await tempDir();
    const { stdout, stderr } = await promisify(execFile)('node', ['bin/sirocco.js', 'keys', 'create', '--name', 'x', '--rpm', '30', '--data', dir], {
      env: childEnv,
    });
    expect(stdout).toMatch(/^sk-[A-Za-z0-9_-]{43,}\n$/);
    const key = stdout.trim();
    expect(stderr).toMatch(/key_[0-9a-f]{12}/);
    expect(stderr).toContain('store it now, it cannot be shown again');
    const store = await FileKeyStore.open(dir, await loadServerSecret(dir, {}));
    const record = await store.verify(key);
    expect(record).toMatchObject({ name: 'x', limits: { requests_per_minute: 30, tokens_per_minute: null } });
    expect(stderr).toContain(record!.id);
  });

  it('loses no key when several CLI processes create keys at once (keys.json.lock)', async () => {
    const dir = await tempDir();
    await loadServerSecret(dir, {}); // one secret for all, as after the first gateway start
    const created = await Promise.all(
      Array.from({ length: 6 }, (_, i) => promisify(execFile)('node', ['bin/sirocco.js', 'keys', 'create', '--name', `k${i}`, '--data', dir], { env: childEnv })),
    );
    const store = await FileKeyStore.open(dir, await loadServerSecret(dir, {}));
    expect((await store.list()).map((r) => r.name).sort()).toEqual(['k0', 'k1', 'k2', 'k3', 'k4', 'k5']);
    for (const { stdout } of created) expect(await store.verify(stdout.trim())).not.toBeNull();
    expect((await readdir(dir)).filter((f) => f.includes('lock') || f.includes('tmp'))).toEqual([]); // every lock released
  });

  describe('in process', () => {
    let out: string;
    let err: string;
    beforeEach(() => {
      out = '';
      err = '';
      vi.spyOn(process.stdout, 'write').mockImplementation((s) => ((out += String(s)), true));
      vi.spyOn(process.stderr, 'write').mockImplementation((s) => ((err += String(s)), true));
      vi.stubEnv('SIROCCO_KEY_SECRET', '');
    });
    afterEach(() => {
      vi.restoreAllMocks();
      vi.unstubAllEnvs();
    });

    it('lists (table and JSON, never the key) and revokes', async () => {
      const dir = await tempDir();
      expect(await runKeys(['create', '--name', 'team a', '--tpm', '1000', '--data', dir])).toBe(0);
      const key = out.trim();
      const id = /key_[0-9a-f]{12}/.exec(err)![0];
      out = '';
      expect(await runKeys(['list', '--data', dir])).toBe(0);
      expect(out).toMatch(/^ID\s+NAME\s+CREATED\s+REVOKED\s+RPM\s+TPM\s+ADMIN\n/);
      expect(out).toContain(id);
      expect(out).toContain('team a');
      expect(out).toContain('1000');
      expect(out).not.toContain(key);
      expect(await runKeys(['revoke', id, '--data', dir])).toBe(0);
      out = '';
      expect(await runKeys(['list', '--json', '--data', dir])).toBe(0);
      const listed = JSON.parse(out) as Array<Record<string, unknown>>;
      expect(listed).toHaveLength(1);
      expect(listed[0]).toMatchObject({ id, name: 'team a', limits: { requests_per_minute: null, tokens_per_minute: 1000 } });
      expect(listed[0]!.revoked_at).toEqual(expect.any(String));
      expect(listed[0]).not.toHaveProperty('hmac');
      expect(out).not.toContain(key);
    });

    it('uses SIROCCO_DATA_DIR when --data is absent', async () => {
      const dir = await tempDir();
      vi.stubEnv('SIROCCO_DATA_DIR', dir);
      expect(await runKeys(['create', '--name', 'env'])).toBe(0);
      expect(JSON.parse(await readFile(join(dir, 'keys.json'), 'utf8')).keys).toHaveLength(1);
    });

    it.each([
      [[], /missing command/],
      [['frobnicate'], /unknown command 'frobnicate'/],
      [['create'], /--name: is required/],
      [['create', '--name', 'x', '--rpm', '0'], /--rpm: expects a positive integer/],
      [['create', '--name', 'x', '--tpm', 'lots'], /--tpm: expects a positive integer/],
      [['create', '--name', 'x', '--bogus'], /Unknown option '--bogus'/],
      [['list', '--rpm', '3'], /--rpm is not an option of 'keys list'/],
      [['revoke'], /exactly one key id/],
      [['revoke', 'sk-abc'], /expected a key id/],
    ])('exits 1 with a clear message on bad input: %j', async (argv, message) => {
      const dir = await tempDir();
      expect(await runKeys([...argv, '--data', dir])).toBe(1);
      expect(err).toMatch(message);
      expect(out).toBe('');
    });

    it('exits 1 when revoking an unknown id', async () => {
      const dir = await tempDir();
      expect(await runKeys(['revoke', 'key_000000000000', '--data', dir])).toBe(1);
      expect(err).toMatch(/no key with id key_000000000000/);
    });
  });
});
