// The edge node (issue 13): the WASM engine in workerd, Cloudflare Workers' runtime, bundled by
// esbuild into one ES module, the model embedded as bindings or fetched from S3 (s3rver) and
// verified. Behind a real gateway it streams a chat completion through the official openai
// client — the tokens a native node gives — and a model that cannot fit the isolate's 128 MB is
// refused with its size and the limit, a tampered one with the chunk that does not match.
import { execFile } from 'node:child_process';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { PutObjectCommand } from '@aws-sdk/client-s3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ModelInfo } from '../src/protocol/internal_api.ts';
import { s3ClientFromEnv } from '../src/weights/s3_location.ts';
import { quantizeModel } from '../weights-tools/quantize.ts';
import { TempModels } from './helpers/models.ts';
import { startLocalS3 } from './helpers/s3rver.ts';
import { NODE_SECRET, startSirocco } from './helpers/servers.ts';
import { startSsmParameters } from './helpers/ssm_parameters.ts';
import { startStack, type Stack } from './helpers/stack.ts';
import { streamedChat } from './helpers/streamed_chat.ts';

const PROMPT = 'What does the wind carry?';

const run = promisify(execFile);
const models = new TempModels();
let modelDir: string;
let edge: Stack;
let native: Stack;

beforeAll(async () => {
  modelDir = join(models.root, 'default-q4_0');
  await quantizeModel({ source: await models.make({ preset: 'sirocco-default', seed: 1, layers: 2 }), to: 'q4_0', out: modelDir, quiet: true });
  [edge, native] = await Promise.all([startStack({ nodeVerb: 'edge-node', modelDir }), startStack({ modelDir })]);
});
afterAll(async () => {
  await Promise.all([edge?.stop(), native?.stop()]);
  models.cleanup();
});

describe('sirocco edge-node', () => {
  // workerd's V8 has relaxed SIMD: the bundle carries sirocco-relaxed.wasm (npm run build:wasm
  // builds it with clang 19; .ci/run installs it), and the next test checks its tokens.
  it('reports its bundle size and serves the model on the relaxed-SIMD WASM engine', async () => {
    expect(edge.nodes[0]!.stderr.join('\n')).toMatch(/edge node bundle: worker\.mjs \d+\.\d\d MB \+ sirocco\.wasm \d+\.\d\d MB/);
    const res = await fetch(`${edge.nodes[0]!.url}/internal/v1/model`, { headers: { 'x-sirocco-node-secret': NODE_SECRET } });
    expect(ModelInfo.parse(await res.json())).toMatchObject({ id: 'sirocco-test', engine: 'cpu/wasm_relaxed_simd' });
  });

  it('refuses a request without the shared secret', async () => {
    const res = await fetch(`${edge.nodes[0]!.url}/internal/v1/ready`);
    expect(res.status).toBe(401);
  });

  it("streams a greedy chat completion through a real gateway: a native node's tokens", async () => {
    const [fromEdge, fromNative] = await Promise.all([streamedChat(edge, PROMPT, 20), streamedChat(native, PROMPT, 20)]);
    expect(fromEdge.completionTokens).toBe(20);
    expect(fromEdge.text.length).toBeGreaterThan(0);
    expect(fromEdge).toEqual(fromNative);
  });

  it('refuses a model that cannot fit the isolate, with its size and the limit', async () => {
    const big = await models.make({ preset: 'sirocco-default', seed: 2, layers: 2, dtype: 'bf16' });
    const err = await run(process.execPath, ['bin/sirocco.js', 'edge-node', '--model', big, '--port', '0'], { env: { ...process.env, SIROCCO_NODE_SECRET: NODE_SECRET } }).then(
      () => null,
      (e: { code: number; stderr: string }) => e,
    );
    expect(err?.code).toBe(1);
    expect(err?.stderr).toMatch(/the edge node did not become ready: cannot load .*: the model needs about \d+\.\d MB here \(weights \d+\.\d MB.*\) but the edge isolate has 128\.0 MB: quantize it/);
  });

  // --kv-dtype reaches the engine in the isolate: q8_0 K/V gives the native engine's greedy
  // tokens with q8_0 K/V, and a head_dim it cannot quantize (24) is refused, saying so.
  it('keeps its K/V cache in q8_0 with --kv-dtype q8_0', async () => {
    const q8 = await startSirocco(['edge-node', '--model', modelDir, '--port', '0', '--kv-dtype', 'q8_0']);
    let tokens: number[];
    try {
      tokens = await greedyTokens(q8.url);
    } finally {
      await q8.stop();
    }
    const prompt = GENERATE.prompt_tokens.join(',');
    const { stdout } = await run(process.execPath, ['bin/sirocco.js', 'logits', '--model', modelDir, '--prompt', prompt, '--steps', String(GENERATE.max_tokens), '--kv-dtype', 'q8_0'], { maxBuffer: 256 << 20 });
    const [nativeCase] = (JSON.parse(stdout) as { cases: { generated: number[] }[] }).cases;
    expect(tokens.length).toBeGreaterThan(0);
    expect(tokens).toEqual(nativeCase!.generated.slice(0, tokens.length));

    const odd = await models.make({ preset: 'mixtral-tiny', seed: 3 });
    const err = await run(process.execPath, ['bin/sirocco.js', 'edge-node', '--model', odd, '--port', '0', '--kv-dtype', 'q8_0'], { env: { ...process.env, SIROCCO_NODE_SECRET: NODE_SECRET } }).then(
      () => null,
      (e: { code: number; stderr: string }) => e,
    );
    expect(err?.code).toBe(1);
    expect(err?.stderr).toMatch(/did not become ready: cannot load .*K\/V dtype q8_0 quantizes blocks of 32 along head_dim, and this model's head_dim is 24/);
  });
});

// One greedy internal generate call, and its tokens straight from a node.
const GENERATE = { request_id: 'r', tenant: 't', session_key: null, prompt_tokens: [1, 22, 333, 4444], max_tokens: 12, temperature: 0, top_p: 1, top_k: 0, seed: null, stop: [], logprobs: false, top_logprobs: 0 };
async function greedyTokens(nodeUrl: string): Promise<number[]> {
  const res = await fetch(`${nodeUrl}/internal/v1/generate`, {
    method: 'POST',
    headers: { 'x-sirocco-node-secret': NODE_SECRET, 'content-type': 'application/json' },
    body: JSON.stringify(GENERATE),
  });
  expect(res.status).toBe(200);
  return [...(await res.text()).matchAll(/^data: (\{"token".*)$/gm)].map((m) => (JSON.parse(m[1]!) as { token: number }).token);
}

describe('sirocco edge-node --model s3://…', () => {
  it('fetches the pushed model, verifies it and serves it; refuses a tampered copy, naming the bytes', async () => {
    const s3 = await startLocalS3(['models']);
    try {
      await run(process.execPath, ['bin/sirocco.js', 'weights', 'push', modelDir, 's3://models/edge-q4'], { env: { ...process.env, ...s3.env } });
      const fromS3 = await startSirocco(['edge-node', '--model', 's3://models/edge-q4', '--port', '0'], s3.env);
      try {
        expect(await greedyTokens(fromS3.url)).toEqual(await greedyTokens(edge.nodes[0]!.url));
      } finally {
        await fromS3.stop();
      }
      // The weights object replaced behind the manifest's back.
      s3.useEnv();
      const weights = await readFile(join(modelDir, 'model.safetensors'));
      weights[weights.length - 5]! ^= 0xff;
      await s3ClientFromEnv().send(new PutObjectCommand({ Bucket: 'models', Key: 'edge-q4/model.safetensors', Body: weights }));
      const err = await run(process.execPath, ['bin/sirocco.js', 'edge-node', '--model', 's3://models/edge-q4', '--port', '0'], { env: { ...process.env, ...s3.env, SIROCCO_NODE_SECRET: NODE_SECRET } }).then(
        () => null,
        (e: { code: number; stderr: string }) => e,
      );
      expect(err?.code).toBe(1);
      expect(err?.stderr).toMatch(/did not become ready: cannot load .*s3:\/\/models\/edge-q4\/model\.safetensors: bytes \[0, \+\d+\) do not match the manifest/);
    } finally {
      await s3.close();
    }
  });
});

// AWS Lambda's streaming interface as its Node runtime hands it to a handler (the runtime itself
// cannot run here): enough to call the package's handler with a function URL's event.
const LAMBDA_RUNTIME = `
import { Writable } from 'node:stream';
globalThis.awslambda = {
  streamifyResponse: (f) => f,
  HttpResponseStream: { from: (stream, meta) => Object.assign(stream, { meta }) },
};
const { handler } = await import('./index.mjs');
const [method, path, body] = JSON.parse(process.argv[2]);
const chunks = [];
const out = new Writable({ write(c, _e, cb) { chunks.push(c); cb(); } });
const finished = new Promise((r) => out.on('finish', r));
const host = 'abc.lambda-url.us-east-1.on.aws';
await handler({
  version: '2.0', rawPath: path, rawQueryString: '', body, isBase64Encoded: false,
  headers: { host, 'content-type': 'application/json', 'x-sirocco-node-secret': process.env.CALLER_SECRET },
  requestContext: { domainName: host, http: { method, path, sourceIp: '203.0.113.1' } },
}, out, {});
await finished;
process.stdout.write(JSON.stringify({ status: out.meta.statusCode, body: Buffer.concat(chunks).toString() }));
`;

describe('sirocco edge-node --lambda-package', () => {
  it('packages a handler that loads the model from S3 and its secret from SSM at init, and streams generate to a function URL', async () => {
    const dir = join(models.root, 'lambda');
    const { stdout } = await run(process.execPath, ['bin/sirocco.js', 'edge-node', '--lambda-package', join(dir, 'edge.zip')]);
    expect(stdout).toMatch(/edge\.zip: the edge node for AWS Lambda, \d+\.\d\d MB/);
    await run('unzip', ['-q', join(dir, 'edge.zip'), '-d', join(dir, 'task')]);
    await writeFile(join(dir, 'task', 'runtime.mjs'), LAMBDA_RUNTIME);
    const s3 = await startLocalS3(['models']);
    const ssm = await startSsmParameters({ '/sirocco-edge/node-secret': NODE_SECRET });
    try {
      await run(process.execPath, ['bin/sirocco.js', 'weights', 'push', modelDir, 's3://models/lambda-q4'], { env: { ...process.env, ...s3.env } });
      // As infra/modules/edge_lambda configures it: where the secret is, not the secret.
      const { SIROCCO_NODE_SECRET: _unset, ...parent } = process.env;
      const env = { ...parent, ...s3.env, AWS_ENDPOINT_URL_SSM: ssm.endpoint, MODEL_URI: 's3://models/lambda-q4', MODEL_ID: 'sirocco-test', SIROCCO_NODE_SECRET_PARAMETER: '/sirocco-edge/node-secret', AWS_LAMBDA_FUNCTION_MEMORY_SIZE: '1024' };
      const invoke = async (method: string, path: string, body?: object, callerSecret = NODE_SECRET) => {
        const r = await run(process.execPath, ['runtime.mjs', JSON.stringify([method, path, body ? JSON.stringify(body) : undefined])], { cwd: join(dir, 'task'), env: { ...env, CALLER_SECRET: callerSecret } });
        return JSON.parse(r.stdout) as { status: number; body: string };
      };
      const ready = await invoke('GET', '/internal/v1/ready');
      expect(ready.status).toBe(200);
      expect(ssm.reads).toContain('/sirocco-edge/node-secret');
      expect((await invoke('GET', '/internal/v1/ready', undefined, 'another-secret-0123456789')).status).toBe(401);
      expect(JSON.parse(ready.body)).toMatchObject({ ready: true, model: 'sirocco-test' });
      const generated = await invoke('POST', '/internal/v1/generate', GENERATE);
      expect(generated.status).toBe(200);
      const tokens = [...generated.body.matchAll(/^data: (\{"token".*)$/gm)].map((m) => (JSON.parse(m[1]!) as { token: number }).token);
      expect(tokens).toEqual(await greedyTokens(edge.nodes[0]!.url));
    } finally {
      await Promise.all([s3.close(), ssm.close()]);
    }
  });
});
