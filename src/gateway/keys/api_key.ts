// API key material: generation, the HMAC a store keeps instead of the key, and the
// constant-time comparison used for the final equality check.
import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';

export const API_KEY_PREFIX = 'sk-';

// 32 random bytes in base64url are 43 characters: 256 bits of entropy, no padding, URL-safe.
const API_KEY_PATTERN = /^sk-[A-Za-z0-9_-]{43,128}$/;
const KEY_ID_PATTERN = /^key_[0-9a-f]{12}$/;

/** A new secret API key: `sk-` followed by 43 base64url characters. */
export function generateApiKey(): string {
  return API_KEY_PREFIX + randomBytes(32).toString('base64url');
}

/** A new public key id: `key_` followed by 12 hex characters (48 random bits). */
export function generateKeyId(): string {
  return 'key_' + randomBytes(6).toString('hex');
}

/** True when `s` has the shape of a key this module generates; a cheap reject before hashing. */
export function looksLikeApiKey(s: string): boolean {
  return API_KEY_PATTERN.test(s);
}

export function isKeyId(s: string): boolean {
  return KEY_ID_PATTERN.test(s);
}

/** HMAC-SHA256 of the key under the server secret, hex. What stores keep instead of the key. */
export function hmacKey(secret: Buffer, key: string): string {
  return createHmac('sha256', secret).update(key, 'utf8').digest('hex');
}

/**
 * Equality of two strings in time independent of where they differ. Different lengths are
 * unequal at once: callers compare fixed-length HMACs, so a length says nothing secret.
 */
export function constantTimeEqual(a: string, b: string): boolean {
  const ab = Buffer.from(a, 'utf8');
  const bb = Buffer.from(b, 'utf8');
  return ab.length === bb.length && timingSafeEqual(ab, bb);
}
