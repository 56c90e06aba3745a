// A whole serving stack for end-to-end tests: a generated model with the real Mistral v1
// vocabulary, N real nodes and a real gateway, API keys in the gateway's data directory.
import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { NODE_SECRET, startSirocco, type Server } from './servers.ts';
import { TempModels } from './models.ts';

const run = promisify(execFile);

export type Stack = {
  models: TempModels;
  modelDir: string;
  modelId: string;
  nodes: Server[];
  gateway: Server;
  dataDir: string;
  createKey: (name: string, limits?: { rpm?: number; tpm?: number; admin?: boolean }) => Promise<string>;
  nodeMetric: (node: Server, name: string) => Promise<number>;
  stop: () => Promise<void>;
};

// nodeVerb 'edge-node' starts edge nodes (workerd) instead; modelDir: a model made by the caller.
export async function startStack(
  options: { nodes?: number; nodeArgs?: string[]; gatewayArgs?: string[]; env?: NodeJS.ProcessEnv; nodeVerb?: 'node' | 'edge-node'; modelDir?: string } = {},
): Promise<Stack> {
  const models = new TempModels();
  const modelDir = options.modelDir ?? (await models.make({ preset: 'sirocco-default', seed: 1, layers: 2 }));
  const dataDir = join(models.root, 'gateway-data');
  const nodes = await Promise.all(
    Array.from({ length: options.nodes ?? 1 }, () =>
      startSirocco([options.nodeVerb ?? 'node', '--model', modelDir, '--port', '0', '--model-id', 'sirocco-test', ...(options.nodeArgs ?? [])], options.env),
    ),
  );
  const gateway = await startSirocco([
    'gateway',
    '--nodes',
    nodes.map((n) => n.url).join(','),
    '--port',
    '0',
    '--data',
    dataDir,
    '--health-interval-ms',
    '200',
    ...(options.gatewayArgs ?? []),
  ], options.env);
  const createKey = async (name: string, limits: { rpm?: number; tpm?: number; admin?: boolean } = {}) => {
    const extra = [...(limits.rpm ? ['--rpm', String(limits.rpm)] : []), ...(limits.tpm ? ['--tpm', String(limits.tpm)] : []), ...(limits.admin ? ['--admin'] : [])];
    const { stdout } = await run(process.execPath, ['bin/sirocco.js', 'keys', 'create', '--name', name, '--data', dataDir, ...extra]);
    return stdout.trim();
  };
  const nodeMetric = async (node: Server, name: string) => {
    const text = await (await fetch(`${node.url}/internal/v1/metrics`, { headers: { 'x-sirocco-node-secret': NODE_SECRET } })).text();
    const line = text.split('\n').find((l) => l.startsWith(name));
    return line ? Number(line.split(' ').at(-1)) : 0;
  };
  // The gateway learns about nodes through health checks: wait until it lists the model.
  for (let i = 0; i < 100; i++) {
    const res = await fetch(`${gateway.url}/health`);
    if (((await res.json()) as { models: string[] }).models.includes('sirocco-test')) break;
    await new Promise((r) => setTimeout(r, 100));
  }
  return {
    models,
    modelDir,
    modelId: 'sirocco-test',
    nodes,
    gateway,
    dataDir,
    createKey,
    nodeMetric,
    stop: async () => {
      await Promise.all([gateway.stop(), ...nodes.map((n) => n.stop())]);
      models.cleanup();
    },
  };
}
