// Shared by `sirocco node` and `sirocco gateway`: listen with @hono/node-server, announce the
// URL on stdout as one JSON line (tests and launchers read it), stop cleanly on signals.
import type { ChildProcess } from 'node:child_process';
import type { ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createInterface } from 'node:readline';
import { serve, type ServerType } from '@hono/node-server';
import { log } from '../telemetry/log.ts';

// The server's bindings ({incoming, outgoing}: the Node request and response) reach the app
// as its env, so routes may read the Node request directly (see gateway/body_limit.ts).
export function listen(app: { fetch: (request: Request, env?: unknown) => Response | Promise<Response> }, host: string, port: number, what: string): Promise<{ server: ServerType; url: string }> {
  return new Promise((resolve, reject) => {
    const server = serve({ fetch: (request, env) => app.fetch(request, env), hostname: host, port }, (info: AddressInfo) => {
      const url = `http://${host}:${info.port}`;
      process.stdout.write(JSON.stringify({ event: 'listening', service: what, url }) + '\n');
      log('info', `${what} listening`, { url });
      resolve({ server, url });
    });
    server.once('error', reject);
  });
}

// Set by `sirocco start|serve` for its children: stdin is a pipe from the launcher, and its end
// (the launcher exited, even by kill -9) stops the child as SIGTERM would.
export const EXIT_WITH_PARENT_ENV = 'SIROCCO_EXIT_WITH_PARENT';

// Runs `shutdown` once on SIGTERM or SIGINT (or the launcher's end, see above), then exits with its code.
export function onSignals(shutdown: (signal: string) => Promise<number>): void {
  let started = false;
  const handler = (signal: string) => {
    if (started) return;
    started = true;
    shutdown(signal).then(
      (code) => process.exit(code),
      (err) => {
        log('error', 'shutdown failed', { error: (err as Error).message });
        process.exit(1);
      },
    );
  };
  process.on('SIGTERM', handler);
  process.on('SIGINT', handler);
  if (process.env[EXIT_WITH_PARENT_ENV] === '1') {
    process.stdin.on('end', () => handler('parent exited'));
    process.stdin.on('close', () => handler('parent exited'));
    process.stdin.resume();
  }
}

// Stops listening and ends each keep-alive connection once it has no request in flight (idle
// ones at once, the rest after their response), so a client polling over keep-alive cannot
// hold close() — and the process — open: a test polling every 200 ms kept a gateway whose
// launcher was killed answering for over 15 s.
export function closeServer(server: ServerType): Promise<void> {
  return new Promise((resolve) => {
    const closeIdle = () => 'closeIdleConnections' in server && server.closeIdleConnections();
    const sweep = setInterval(closeIdle, 100);
    server.on('request', (_req: unknown, res: ServerResponse) => {
      if (!res.headersSent) res.setHeader('connection', 'close');
    });
    server.close(() => {
      clearInterval(sweep);
      resolve();
    });
    closeIdle();
  });
}

// The other side of the announcement: the URL a child `sirocco node|gateway` reports once it
// is usable — a node when its model is loaded ("ready"), a gateway when it listens. Other
// stdout lines go to `other`. Rejects if the child exits first.
export function announcedUrl(child: ChildProcess, verb: string, other: (line: string) => void = () => {}): Promise<string> {
  const until = verb === 'node' || verb === 'edge-node' ? 'ready' : 'listening';
  return new Promise((resolve, reject) => {
    createInterface({ input: child.stdout! }).on('line', (line) => {
      let msg: { event?: string; url?: string } | null = null;
      try {
        msg = JSON.parse(line) as { event?: string; url?: string };
      } catch {
        other(line);
      }
      if (msg?.event === until && msg.url) resolve(msg.url);
    });
    child.once('exit', (code) => reject(new Error(`sirocco ${verb} exited with code ${code}`)));
  });
}
