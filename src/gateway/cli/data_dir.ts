// Where the embedded store keeps its state (keys.json, secret, usage.jsonl): --data DIR, else
// $SIROCCO_DATA_DIR, else ~/.sirocco — never the working directory's, so the gateway and the
// CLI agree wherever each is started.
import { homedir } from 'node:os';
import { join, resolve } from 'node:path';

export const DATA_DIR_ENV = 'SIROCCO_DATA_DIR';
export const DEFAULT_DATA_DIR = join(homedir(), '.sirocco');

export function resolveDataDir(flag: string | undefined, env: NodeJS.ProcessEnv = process.env, cwd = process.cwd()): string {
  const fromEnv = env[DATA_DIR_ENV];
  return resolve(cwd, flag ?? (fromEnv !== undefined && fromEnv !== '' ? fromEnv : DEFAULT_DATA_DIR));
}
