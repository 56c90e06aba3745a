// A real S3-compatible server (s3rver) on 127.0.0.1 with an ephemeral port and a temp directory,
// plus the standard AWS environment that points the code under test (and its child processes) at it.
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { S3Client } from '@aws-sdk/client-s3';
import S3rver from 's3rver';
import { s3ClientFromEnv } from '../../src/weights/s3_location.ts';

export type LocalS3 = {
  endpoint: string;
  /** AWS_* variables for this server; pass them to child processes explicitly. */
  env: Record<string, string>;
  /** Sets `env` on this process (for in-process calls) until close(). */
  useEnv(): void;
  close(): Promise<void>;
};

/** `keepDirectory`: serve (and keep) the objects in that directory instead of a fresh temp one. */
export async function startLocalS3(buckets: string[], keepDirectory?: string): Promise<LocalS3> {
  if (keepDirectory) mkdirSync(keepDirectory, { recursive: true });
  const directory = keepDirectory ?? mkdtempSync(join(tmpdir(), 'sirocco-s3rver-'));
  const server = new S3rver({ address: '127.0.0.1', port: 0, silent: true, directory, configureBuckets: buckets.map((name) => ({ name })) });
  const { port } = await server.run();
  const endpoint = `http://127.0.0.1:${port}`;
  const env = {
    AWS_ENDPOINT_URL: endpoint,
    AWS_ACCESS_KEY_ID: 'S3RVER',
    AWS_SECRET_ACCESS_KEY: 'S3RVER',
    AWS_REGION: 'us-east-1',
    AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true',
  };
  const saved = new Map<string, string | undefined>();
  return {
    endpoint,
    env,
    useEnv() {
      for (const [k, v] of Object.entries(env)) {
        if (!saved.has(k)) saved.set(k, process.env[k]);
        process.env[k] = v;
      }
    },
    async close() {
      for (const [k, v] of saved) {
        if (v === undefined) delete process.env[k];
        else process.env[k] = v;
      }
      await server.close();
      if (!keepDirectory) rmSync(directory, { recursive: true, force: true });
    },
  };
}

/** An S3 client (from the environment) whose requests a test can watch, delay or hold back. */
export function hookedS3Client(before: (command: string, input: { Key?: string; Range?: string }) => Promise<void> | void): S3Client {
  const hooked = s3ClientFromEnv({ maxAttempts: 1 });
  const send = hooked.send.bind(hooked);
  hooked.send = (async (command: { constructor: { name: string }; input: { Key?: string; Range?: string } }, options?: unknown) => {
    await before(command.constructor.name, command.input);
    return send(command as never, options as never);
  }) as typeof hooked.send;
  return hooked;
}
