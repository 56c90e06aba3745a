// Where the gateway keeps its state (keys.json, secret, usage.jsonl): --data DIR, else
// $SIROCCO_DATA_DIR, else ./.sirocco. The gateway and the CLI must agree on it.
import { resolve } from 'node:path';

export const DATA_DIR_ENV = 'SIROCCO_DATA_DIR';
export const DEFAULT_DATA_DIR = '.sirocco';

export function resolveDataDir(flag: string | undefined, env: NodeJS.ProcessEnv = process.env, cwd = process.cwd()): string {
  const fromEnv = env[DATA_DIR_ENV];
  return resolve(cwd, flag ?? (fromEnv !== undefined && fromEnv !== '' ? fromEnv : DEFAULT_DATA_DIR));
}
