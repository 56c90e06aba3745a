// The server secret under which key HMACs are computed. Every process that creates or
// verifies keys for one data dir (gateway, CLI) must load the same secret.
import { randomBytes } from 'node:crypto';
import { mkdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { createFileAtomic } from './atomic_write.ts';

export const SECRET_ENV = 'SIROCCO_KEY_SECRET';
const MIN_ENV_CHARS = 32;
const SECRET_BYTES = 32;

/**
 * `SIROCCO_KEY_SECRET` (at least 32 characters) when set; otherwise the 32-byte file
 * `dataDir/secret`, created (mode 0600) on first use.
 */
export async function loadServerSecret(dataDir: string, env: NodeJS.ProcessEnv = process.env): Promise<Buffer> {
  const fromEnv = env[SECRET_ENV];
  if (fromEnv !== undefined && fromEnv !== '') {
    if (fromEnv.length < MIN_ENV_CHARS) {
      throw new Error(`${SECRET_ENV} must be at least ${MIN_ENV_CHARS} characters (got ${fromEnv.length})`);
    }
    return Buffer.from(fromEnv, 'utf8');
  }
  const file = join(dataDir, 'secret');
  let secret = await readIfExists(file);
  if (secret === null) {
    await mkdir(dataDir, { recursive: true, mode: 0o700 });
    // If another process wins the race to create it, we read theirs.
    await createFileAtomic(file, randomBytes(SECRET_BYTES), 0o600);
    secret = await readFile(file);
  }
  if (secret.length < SECRET_BYTES) {
    throw new Error(`${file} holds ${secret.length} bytes, expected at least ${SECRET_BYTES}: restore it or set ${SECRET_ENV}`);
  }
  return secret;
}

async function readIfExists(file: string): Promise<Buffer | null> {
  try {
    return await readFile(file);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw err;
  }
}
