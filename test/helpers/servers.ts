// Real servers for end-to-end tests: `sirocco node` and `sirocco gateway` as child processes
// on 127.0.0.1 with ephemeral ports, found through the JSON line they print when listening.
import { spawn, type ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';

export const NODE_SECRET = 'test-node-secret-0123456789';

export type Server = { url: string; child: ChildProcess; stderr: string[]; stop: (signal?: NodeJS.Signals) => Promise<number | null> };

// Resolves once a node has loaded its model ("ready"), or once a gateway listens.
export function startSirocco(args: string[], env: NodeJS.ProcessEnv = {}, timeoutMs = 60_000): Promise<Server> {
  const until = args[0] === 'node' ? 'ready' : 'listening';
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
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`sirocco ${args[0]} did not start in ${timeoutMs} ms:\n${stderr.join('\n')}`));
    }, timeoutMs);
    createInterface({ input: child.stdout! }).on('line', (line) => {
      try {
        const msg = JSON.parse(line) as { event?: string; url?: string };
        if (msg.event === until && msg.url) {
          clearTimeout(timer);
          resolve({ url: msg.url, child, stderr, stop });
        }
      } catch {
        // not a JSON line
      }
    });
    void exited.then((code) => {
      clearTimeout(timer);
      reject(new Error(`sirocco ${args[0]} exited with ${code}:\n${stderr.join('\n')}`));
    });
  });
}
