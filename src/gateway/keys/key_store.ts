// The API-key store seen by the gateway and the CLI. Implementations keep only the HMAC of a
// key under a server secret, never the key: a leaked keys.json (or a database dump) cannot
// be replayed against the gateway.
import { z } from 'zod';

const perMinute = z.number().int().positive().nullable();

export const KeyLimitsSchema = z.strictObject({
  requests_per_minute: perMinute,
  tokens_per_minute: perMinute,
});
export type KeyLimits = z.infer<typeof KeyLimitsSchema>;

export const UNLIMITED: KeyLimits = Object.freeze({ requests_per_minute: null, tokens_per_minute: null });

export const KeyRecordSchema = z.strictObject({
  id: z.string().regex(/^key_[0-9A-Za-z]{6,64}$/),
  name: z.string().min(1).max(200),
  hmac: z.string().regex(/^[0-9a-f]{64}$/),
  created_at: z.iso.datetime({ offset: true }),
  revoked_at: z.iso.datetime({ offset: true }).nullable(),
  limits: KeyLimitsSchema,
  // Admin keys may also read /metrics and everyone's usage and manage keys over HTTP.
  // Absent in files written before admin keys existed: false.
  admin: z.boolean().default(false),
});
export type KeyRecord = z.infer<typeof KeyRecordSchema>;

/** A key's display name: trimmed, 1–200 characters, no control characters. */
export const KeyNameSchema = z
  .string()
  .trim()
  .min(1, 'name must not be empty')
  .max(200, 'name is longer than 200 characters')
  .refine((s) => !/[\u0000-\u001f\u007f]/.test(s), 'name must not contain control characters');

export type KeyOptions = { admin?: boolean };

/** What may be shown of a key record (CLI, admin API): everything but the HMAC. */
export const publicKeyView = (r: KeyRecord) => ({ id: r.id, name: r.name, created_at: r.created_at, revoked_at: r.revoked_at, limits: r.limits, admin: r.admin });

export interface KeyStore {
  /** Mints a key. `key` is returned this once; the store keeps only its HMAC. */
  create(name: string, limits?: Partial<KeyLimits>, options?: KeyOptions): Promise<{ record: KeyRecord; key: string }>;
  /** The key's record, or null if the key is unknown or revoked. */
  verify(key: string): Promise<KeyRecord | null>;
  /** Marks the key revoked. False if no key has this id; true (unchanged) if already revoked. */
  revoke(id: string): Promise<boolean>;
  /** Every record, revoked ones included, oldest first. */
  list(): Promise<KeyRecord[]>;
  /** The record with this id, revoked or not, or null. */
  get(id: string): Promise<KeyRecord | null>;
}
