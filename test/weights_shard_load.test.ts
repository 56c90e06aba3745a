// Shard-aware cold start from S3 (issue 8 §4) on a real S3-compatible server: with --tp N each
// shard downloads only the byte ranges of its own slices plus the tensors every shard holds,
// verified block by block, loads them as they arrive, and gives the logits of a local tp=1
// run; `sirocco node --model s3://… --tp 2` serves through a real gateway.
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Engine } from '../src/engine/engine.ts';
import { generateGreedy, type GreedyCase } from '../src/engine/generate.ts';
import { loadModelFiles } from '../src/engine/model_files.ts';
import { readSafetensorsHeader } from '../src/engine/safetensors.ts';
import { pushModel } from '../src/weights/push.ts';
import { s3ClientFromEnv } from '../src/weights/s3_location.ts';
import { loadShardedFromS3 } from '../src/weights/shard_load.ts';
import { SLICE_DIR } from '../src/weights/slice_cache.ts';
import { prompt } from './helpers/check_reference.ts';
import { TempModels } from './helpers/models.ts';
import { startLocalS3, type LocalS3 } from './helpers/s3rver.ts';
import { startSirocco } from './helpers/servers.ts';
import { relativeError } from './reference/compare.ts';

const BUCKET = 'models';
const BLOCK = 16 << 10; // small blocks: the tiny model's tensors span many, as a real one's span many 1 MiB blocks
const models = new TempModels();
const scratch = mkdtempSync(join(tmpdir(), 'sirocco-shard-load-'));
let s3: LocalS3;
let dir: string;
let caches = 0;
const freshCache = () => join(scratch, `cache-${caches++}`);

beforeAll(async () => {
  s3 = await startLocalS3([BUCKET]);
  s3.useEnv();
  // The served model: MoE, GQA 8:2, real vocabulary (so the node has a tokenizer).
  dir = await models.make({ preset: 'sirocco-default', seed: 3, layers: 2 });
  await pushModel(dir, `s3://${BUCKET}/default`, { blockBytes: BLOCK, progress: null });
});
afterAll(async () => {
  await s3?.close();
  models.cleanup();
  rmSync(scratch, { recursive: true, force: true });
});

const PROMPTS = [prompt(30, 1, 32000), prompt(5, 2, 32000)];
const greedy = (engine: Engine) => generateGreedy(engine, PROMPTS, { steps: 4, chunk: 7, promptLogits: true });

// Bytes of every stored tensor, and of those every shard holds whole (norms and routers).
async function modelBytes(): Promise<{ total: number; replicated: number }> {
  const model = await loadModelFiles(dir);
  const sizes = new Map((await readSafetensorsHeader(model.files[0]!)).map((t) => [t.name, t.bytes]));
  const replicated = [model.tensors.finalNorm, ...model.tensors.layers.flatMap((l) => [l.attnNorm, l.ffnNorm, l.router!])];
  return { total: [...sizes.values()].reduce((a, b) => a + b, 0), replicated: replicated.reduce((n, t) => n + sizes.get(t.name)!, 0) };
}

describe('sharded cold start from S3', () => {
  let local: GreedyCase[];
  it('runs the model locally at --tp 1 for comparison', async () => {
    const engine = await Engine.load(dir, { kvDtype: 'f32' });
    local = await greedy(engine);
    await engine.close();
  });

  it.each([
    { tp: 2, moeSplit: 'columns' },
    { tp: 2, moeSplit: 'experts' },
  ] as const)('--tp $tp --moe-split $moeSplit: each shard downloads only its share, logits equal tp=1', async ({ tp, moeSplit }) => {
    const { engine, shards } = await loadShardedFromS3(`s3://${BUCKET}/default`, { tp, moeSplit, kvDtype: 'f32' }, {
      cacheDir: freshCache(),
      client: s3ClientFromEnv(),
      progress: null,
    });
    try {
      const cases = await greedy(engine);
      cases.forEach((c, i) => {
        expect(c.generated).toEqual(local[i]!.generated);
        [...c.promptLogits, ...c.stepLogits].forEach((v, k) =>
          expect(relativeError(v, Float64Array.from([...local[i]!.promptLogits, ...local[i]!.stepLogits][k]!))).toBeLessThanOrEqual(1e-5),
        );
      });
      const { total, replicated } = await modelBytes();
      expect(shards).toHaveLength(tp);
      for (const s of shards) {
        // Its slices are exactly 1/tp of the split tensors plus the replicated ones ...
        expect(s.sliceBytes).toBe((total - replicated) / tp + replicated);
        // ... and the download adds at most the partial blocks around each slice.
        expect(s.downloadedBytes).toBeGreaterThanOrEqual(s.sliceBytes);
        expect(s.downloadedBytes).toBeLessThan(s.sliceBytes * 1.1);
        expect(s.downloadedBytes).toBeLessThan(0.6 * total);
      }
      expect(engine.info().weightBytesPerShard.every((b) => b < 0.6 * total)).toBe(true);
    } finally {
      await engine.close();
    }
  });

  it('a restart loads its slices from the local cache: nothing downloaded, a corrupted slice fetched again', async () => {
    const cacheDir = freshCache();
    const load = () => loadShardedFromS3(`s3://${BUCKET}/default`, { tp: 2, kvDtype: 'f32' }, { cacheDir, client: s3ClientFromEnv(), progress: null });
    const first = await load();
    await first.engine.close();
    expect(first.shards.every((s) => s.downloadedBytes >= s.sliceBytes && s.cachedBytes === 0)).toBe(true);

    const again = await load();
    try {
      expect(again.shards.map((s) => [s.downloadedBytes, s.cachedBytes])).toEqual(again.shards.map((s) => [0, s.sliceBytes]));
      const cases = await greedy(again.engine);
      cases.forEach((c, i) => expect(c.generated).toEqual(local[i]!.generated));
    } finally {
      await again.engine.close();
    }

    // Flip a byte of one cached slice: that slice alone is downloaded again.
    const slices = join(again.dir, SLICE_DIR);
    const victim = readdirSync(slices).find((f) => f.includes('experts.3.w2.weight') && f.endsWith('.bin'))!;
    const bytes = readFileSync(join(slices, victim));
    bytes[7]! ^= 0x20;
    writeFileSync(join(slices, victim), bytes);
    const repaired = await load();
    try {
      const downloaded = repaired.shards.reduce((n, s) => n + s.downloadedBytes, 0);
      expect(downloaded).toBeGreaterThanOrEqual(bytes.length);
      expect(downloaded).toBeLessThan(bytes.length + 2 * BLOCK * 2);
      const cases = await greedy(repaired.engine);
      cases.forEach((c, i) => expect(c.generated).toEqual(local[i]!.generated));
    } finally {
      await repaired.engine.close();
    }
  });

  it('a v1 manifest cannot verify partial fetches: the error says to push again or use --tp 1', async () => {
    const { GetObjectCommand, PutObjectCommand } = await import('@aws-sdk/client-s3');
    const client = s3ClientFromEnv();
    await pushModel(dir, `s3://${BUCKET}/old`, { blockBytes: BLOCK, progress: null });
    const text = await (await client.send(new GetObjectCommand({ Bucket: BUCKET, Key: 'old/manifest.json' }))).Body!.transformToString();
    const v1 = JSON.parse(text) as { version: number; model: { files: Record<string, unknown>[]; colchunks?: unknown; block_bytes?: unknown } };
    v1.version = 1;
    delete v1.model.colchunks;
    delete v1.model.block_bytes;
    for (const f of v1.model.files) {
      delete f.header;
      for (const t of (f.tensors as Record<string, unknown>[] | undefined) ?? []) delete t.blocks;
    }
    await client.send(new PutObjectCommand({ Bucket: BUCKET, Key: 'old/manifest.json', Body: JSON.stringify(v1) }));
    await expect(
      loadShardedFromS3(`s3://${BUCKET}/old`, { tp: 2 }, { cacheDir: freshCache(), client, progress: null }),
    ).rejects.toThrow(/manifest \(version 1\) cannot verify partial fetches: push the model again with this sirocco, or use --tp 1/);
  });

  it('sirocco node --model s3://… --tp 2 serves a chat completion through the gateway', async () => {
    const node = await startSirocco(['node', '--model', `s3://${BUCKET}/default`, '--tp', '2', '--port', '0'], {
      ...s3.env,
      SIROCCO_CACHE_DIR: freshCache(),
    });
    const gateway = await startSirocco(['gateway', '--nodes', node.url, '--port', '0', '--data', join(scratch, 'gw'), '--health-interval-ms', '200'], {
      SIROCCO_API_KEY: 'sk-shard-test-key-0123456789',
    });
    try {
      expect(node.stderr.join('\n')).toMatch(/shard 0\/2: [\d.]+ MB downloaded, 0\.0 MB from the local cache, for [\d.]+ MB of slices/);
      expect(node.stderr.join('\n')).toMatch(/shard 1\/2: /);
      let res: Response | undefined;
      for (let i = 0; i < 50; i++) {
        res = await fetch(`${gateway.url}/v1/chat/completions`, {
          method: 'POST',
          headers: { authorization: 'Bearer sk-shard-test-key-0123456789', 'content-type': 'application/json' },
          body: JSON.stringify({ model: 'default', messages: [{ role: 'user', content: 'Hello' }], max_tokens: 5, temperature: 0 }),
        });
        if (res.status !== 503) break;
        await new Promise((r) => setTimeout(r, 100));
      }
      expect(res!.status).toBe(200);
      const body = (await res!.json()) as { choices: { message: { content: string } }[]; usage: { completion_tokens: number } };
      expect(body.usage.completion_tokens).toBeGreaterThan(0);
    } finally {
      await Promise.all([gateway.stop(), node.stop()]);
    }
  });
});
