// Random hex for ids made on every request (request ids, response ids). randomBytes(12) asks
// OpenSSL for 12 bytes each time, and on our VMs that is a system call or two per request;
// drawing from a 4 KiB pool refilled by randomFillSync makes it one per 340 ids. Same source,
// same unpredictability: use it for ids, never for secrets (those stay on randomBytes).
import { randomFillSync } from 'node:crypto';

const pool = Buffer.alloc(4096);
let used = pool.length;

export function randomHex(bytes: number): string {
  if (bytes > pool.length) throw new RangeError(`randomHex: at most ${pool.length} bytes`);
  if (used + bytes > pool.length) {
    randomFillSync(pool);
    used = 0;
  }
  const hex = pool.toString('hex', used, used + bytes);
  used += bytes;
  return hex;
}
