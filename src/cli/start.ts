// `npm start` (`sirocco start`): the embedded default — one node and one gateway on
// 127.0.0.1 serving the built-in random-weight model, a development key, and a curl example.
import { spawn, execFileSync, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { announcedUrl } from './serve.ts';

const ROOT = resolve(fileURLToPath(import.meta.url), '../../..');
const CLI = join(ROOT, 'bin/sirocco.js');
export const DEFAULT_MODEL_DIR = join(ROOT, 'models/default');
const MODEL_ID = 'sirocco-default';

// The default model: Mixtral architecture, real Mistral v1 vocabulary, random weights.
export function ensureDefaultModel(): void {
  if (existsSync(join(DEFAULT_MODEL_DIR, 'config.json'))) return;
  process.stderr.write(`sirocco: generating the default model into ${DEFAULT_MODEL_DIR} …\n`);
  execFileSync(process.execPath, [CLI, 'make-tiny', '--preset', 'sirocco-default', '--seed', '0', '--dtype', 'bf16', '--out', DEFAULT_MODEL_DIR], {
    stdio: 'inherit',
  });
}

async function spawnService(args: string[], env: NodeJS.ProcessEnv): Promise<{ child: ChildProcess; url: string }> {
  const child = spawn(process.execPath, [CLI, ...args], { env, stdio: ['ignore', 'pipe', 'inherit'] });
  return { child, url: await announcedUrl(child, args[0]!, (line) => process.stdout.write(line + '\n')) };
}

export async function runStart(argv: string[]): Promise<number> {
  if (argv.length > 0) {
    process.stderr.write('usage: sirocco start   (PORT sets the gateway port; SIROCCO_API_KEY sets the key to accept)\n');
    return 1;
  }
  ensureDefaultModel();
  const env = { ...process.env, SIROCCO_NODE_SECRET: process.env.SIROCCO_NODE_SECRET ?? randomBytes(24).toString('hex') };
  const dataDir = process.env.SIROCCO_DATA_DIR ?? join(ROOT, '.sirocco');
  let apiKey = process.env.SIROCCO_API_KEY;
  if (!apiKey) {
    apiKey = execFileSync(process.execPath, [CLI, 'keys', 'create', '--name', `dev-${new Date().toISOString()}`, '--data', dataDir], {
      env,
      stdio: ['ignore', 'pipe', 'ignore'],
    })
      .toString()
      .trim();
  }
  const node = await spawnService(['node', '--model', DEFAULT_MODEL_DIR, '--model-id', MODEL_ID, '--port', '0'], env);
  const children = [node.child];
  const stopAll = () => children.forEach((c) => c.exitCode === null && c.kill('SIGTERM'));
  process.on('SIGINT', stopAll);
  process.on('SIGTERM', stopAll);
  try {
    const gateway = await spawnService(['gateway', '--nodes', node.url, '--port', process.env.PORT ?? '8080', '--data', dataDir], {
      ...env,
      SIROCCO_API_KEY: process.env.SIROCCO_API_KEY,
    });
    children.push(gateway.child);
    process.stdout.write(`
Sirocco is running: gateway ${gateway.url}, one node serving '${MODEL_ID}'.
The default model has random weights with the real Mistral v1 vocabulary: its text is
meaningless. To serve real weights: sirocco node --model DIR (a Hugging Face model directory).

API key: ${apiKey}

curl ${gateway.url}/v1/chat/completions \\
  -H "Authorization: Bearer ${apiKey}" -H "Content-Type: application/json" \\
  -d '{"model": "${MODEL_ID}", "messages": [{"role": "user", "content": "Hello!"}], "max_tokens": 32}'

Press Ctrl+C to stop.
`);
  } catch (err) {
    stopAll();
    throw err;
  }
  await Promise.all(children.map((c) => new Promise((r) => (c.exitCode !== null ? r(null) : c.once('exit', r)))));
  return 0;
}
