// `sirocco gateway --nodes URL[,URL…]`: the OpenAI-compatible front door.
import { parseArgs } from 'node:util';
import { z } from 'zod';
import { createGatewayApp } from '../gateway/app.ts';
import { API_KEY_ENV, EnvKeyStore } from '../gateway/keys/env_key_store.ts';
import { FileKeyStore } from '../gateway/keys/file_key_store.ts';
import { loadServerSecret } from '../gateway/keys/server_secret.ts';
import { FileUsageLedger } from '../gateway/ledger/file_usage_ledger.ts';
import { GatewayMetrics } from '../gateway/metrics.ts';
import { NodePool } from '../gateway/node_pool.ts';
import { RateLimiter } from '../gateway/rate_limit.ts';
import { log } from '../telemetry/log.ts';
import { closeServer, listen, onSignals } from './serve.ts';

const USAGE = `usage: sirocco gateway --nodes URL[,URL…] [--port 8080] [--host 127.0.0.1] [--data DIR]
                       [--health-interval-ms 1000] [--connect-timeout-ms 10000]
Nodes are called with the secret in SIROCCO_NODE_SECRET. API keys, the server secret and the
usage ledger live in --data (default: $SIROCCO_DATA_DIR or ./.sirocco); create keys with
'sirocco keys create --name NAME'. SIROCCO_API_KEY, when set, is accepted as one more key.
`;

const Options = z.object({
  nodes: z
    .string({ error: '--nodes URL[,URL…] is required' })
    .transform((s) => s.split(',').map((u) => u.trim()).filter(Boolean))
    .refine((urls) => urls.length > 0 && urls.every((u) => URL.canParse(u)), 'expected comma-separated http:// URLs'),
  port: z.coerce.number().int().min(0).max(65535).default(8080),
  host: z.string().default('127.0.0.1'),
  data: z.string().default(process.env.SIROCCO_DATA_DIR ?? '.sirocco'),
  'health-interval-ms': z.coerce.number().int().positive().default(1000),
  'connect-timeout-ms': z.coerce.number().int().positive().default(10_000),
  secret: z.string({ error: 'set SIROCCO_NODE_SECRET (the secret the nodes were started with)' }).min(16, 'SIROCCO_NODE_SECRET must be at least 16 characters'),
});

export async function runGateway(argv: string[]): Promise<number> {
  let values;
  try {
    values = parseArgs({
      args: argv,
      options: Object.fromEntries(['nodes', 'port', 'host', 'data', 'health-interval-ms', 'connect-timeout-ms'].map((k) => [k, { type: 'string' as const }])),
    }).values;
  } catch (err) {
    process.stderr.write(`sirocco gateway: ${(err as Error).message}\n\n${USAGE}`);
    return 1;
  }
  const parsed = Options.safeParse({ ...values, secret: process.env.SIROCCO_NODE_SECRET });
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    process.stderr.write(`sirocco gateway: ${issue.path[0] === 'secret' ? '' : `--${String(issue.path[0])}: `}${issue.message}\n\n${USAGE}`);
    return 1;
  }
  const o = parsed.data;
  const pool = new NodePool({ urls: o.nodes, secret: o.secret, healthIntervalMs: o['health-interval-ms'], requestTimeoutMs: 5000 });
  const fileKeys = await FileKeyStore.open(o.data, await loadServerSecret(o.data));
  const envKey = process.env[API_KEY_ENV];
  const deps = {
    pool,
    keys: envKey ? new EnvKeyStore(fileKeys, envKey) : fileKeys,
    ledger: await FileUsageLedger.open(o.data),
    limiter: new RateLimiter({}),
    metrics: new GatewayMetrics(),
    connectTimeoutMs: o['connect-timeout-ms'],
  };
  await pool.start();
  const { server } = await listen(createGatewayApp(deps), o.host, o.port, 'gateway');
  onSignals(async (signal) => {
    log('info', 'gateway stopping', { signal });
    pool.stop();
    await closeServer(server);
    return 0;
  });
  return new Promise<number>(() => {}); // runs until a signal ends the process
}
