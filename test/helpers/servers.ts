// Real servers for end-to-end tests: `sirocco node` and `sirocco gateway` as child processes
// on 127.0.0.1 with ephemeral ports, found through the JSON line they print when listening.
import { spawn, type ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';
import { announcedUrl } from '../../src/cli/serve.ts';

export const NODE_SECRET = 'test-node-secret-0123456789';

export type Server = { url: string; child: ChildProcess; stderr: string[]; stop: (signal?: NodeJS.Signals) => Promise<number | null> };

// Resolves once a node has loaded its model, or once a gateway listens (see announcedUrl).
export function startSirocco(args: string[], env: NodeJS.ProcessEnv = {}, timeoutMs = 60_000): Promise<Server> {
  const child = spawn(process.execPath, ['bin/sirocco.js', ...args], {
    env: { ...process.env, SIROCCO_NODE_SECRET: NODE_SECRET, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const stderr: string[] = [];
  createInterface({ input: child.stderr! }).on('line', (l) => stderr.push(l));
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  const stop = async (signal: NodeJS.Signals = 'SIGTERM') => {
    if (child.exitCode === null && child.signalCode === null) child.kill(signal);
    return exited;
  };
  const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
  return announcedUrl(child, args[0]!).then(
    (url) => {
      clearTimeout(timer);
      return { url, child, stderr, stop };
    },
    () => {
      clearTimeout(timer);
      throw new Error(`sirocco ${args[0]} exited or did not start in ${timeoutMs} ms:\n${stderr.join('\n')}`);
    },
  );
}

/** Waits until the gateway's health checks have seen a node serving `model`. */
export async function waitForModel(gateway: Server, model: string): Promise<void> {
  for (let i = 0; i < 100; i++) {
    const health = (await (await fetch(`${gateway.url}/health`)).json()) as { models: string[] };
    if (health.models.includes(model)) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`the gateway never saw a node serving ${model}`);
}
