// Models in S3 (issue #4) against a real S3-compatible server (s3rver on 127.0.0.1): push,
// `--model s3://…` giving the same logits as the local directory, checksum and missing-object
// refusals, resume after an interrupted download fetching only what was missing, pull, verify.
import { DeleteObjectCommand, GetObjectCommand, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { readSafetensorsHeader } from '../src/engine/safetensors.ts';
import { NODE_SECRET_HEADER } from '../src/protocol/internal_api.ts';
import { ChecksumError, ObjectChangedError } from '../src/weights/errors.ts';
import { fetchModel, newFetchStats, type FetchStats } from '../src/weights/fetch_model.ts';
import { verifyLocalModel } from '../src/weights/local_verify.ts';
import { Manifest } from '../src/weights/manifest.ts';
import { resolveModelDir } from '../src/weights/model_uri.ts';
import { pushModel } from '../src/weights/push.ts';
import { s3ClientFromEnv } from '../src/weights/s3_location.ts';
import { runPull, runVerify } from '../weights-tools/storage_cli.ts';
import { TempModels } from './helpers/models.ts';
import { NODE_SECRET, startSirocco } from './helpers/servers.ts';
import { hookedS3Client, startLocalS3, type LocalS3 } from './helpers/s3rver.ts';

const run = promisify(execFile);
const CHUNK = 64 << 10; // small chunks: the tiny model spans many, as a real one spans many 64 MiB chunks
const BUCKET = 'models';
const MODEL = `s3://${BUCKET}/tiny/v1`;
const BIG_SHARD = 'model-00002-of-00003.safetensors';

const models = new TempModels();
const scratch = mkdtempSync(join(tmpdir(), 'sirocco-weights-s3-'));
let s3: LocalS3;
let client: S3Client;
let modelDir: string;
let cacheCount = 0;
const freshCache = () => join(scratch, `cache-${cacheCount++}`);

async function sirocco(args: string[], env: Record<string, string> = {}) {
  try {
    const { stdout, stderr } = await run('node', ['bin/sirocco.js', ...args], { env: { ...process.env, ...s3.env, ...env }, maxBuffer: 1 << 28 });
    return { code: 0, stdout, stderr };
  } catch (err) {
    const e = err as { code: number; stdout: string; stderr: string };
    return { code: e.code, stdout: e.stdout, stderr: e.stderr };
  }
}

/** A `sirocco weights` subcommand run in this process (faster than a child), its output captured. */
async function inProcess(command: (argv: string[]) => Promise<number>, argv: string[]) {
  const out: string[] = [];
  const err: string[] = [];
  const stdout = vi.spyOn(process.stdout, 'write').mockImplementation((text) => out.push(String(text)) > 0);
  const stderr = vi.spyOn(process.stderr, 'write').mockImplementation((text) => err.push(String(text)) > 0);
  try {
    const code = await command(argv);
    return { code, stdout: out.join(''), stderr: err.join('') };
  } finally {
    stdout.mockRestore();
    stderr.mockRestore();
  }
}

// Buffer.equals: vitest's deep equality walks a buffer byte by byte, seconds per megabyte.
const expectSameBytes = (actual: Buffer, expected: Buffer) => expect(actual.equals(expected), `${actual.length} vs ${expected.length} bytes`).toBe(true);
const storedBytes = async (key: string) =>
  Buffer.from(await (await client.send(new GetObjectCommand({ Bucket: BUCKET, Key: key }))).Body!.transformToByteArray());
const put = (key: string, body: Buffer) => client.send(new PutObjectCommand({ Bucket: BUCKET, Key: key, Body: body }));
const push = (prefix: string) => pushModel(modelDir, `s3://${BUCKET}/${prefix}`, { chunkSize: CHUNK, progress: null });

/** Uploads a copy of `file` with one byte flipped at `offset`, keeping the manifest as it was. */
async function flipStoredByte(prefix: string, file: string, offset: number) {
  const bytes = await storedBytes(`${prefix}/${file}`);
  bytes[offset]! ^= 0x40;
  await put(`${prefix}/${file}`, bytes);
}

beforeAll(async () => {
  s3 = await startLocalS3([BUCKET]);
  s3.useEnv();
  client = s3ClientFromEnv();
  modelDir = await models.make({ preset: 'mixtral-tiny', seed: 7, shards: 3 });
  const pushed = await sirocco(['weights', 'push', modelDir, MODEL, '--chunk-mb', String(CHUNK / 2 ** 20)]);
  expect(pushed.stderr).toContain('push s3://models/tiny/v1');
  expect(pushed.code).toBe(0);
});

afterAll(async () => {
  await s3?.close();
  models.cleanup();
  rmSync(scratch, { recursive: true, force: true });
});

describe('sirocco weights push', () => {
  it('stores every file and a manifest with file, chunk and tensor checksums', async () => {
    const manifest = Manifest.parse(JSON.parse((await storedBytes('tiny/v1/manifest.json')).toString('utf8')));
    expect(manifest.model.files.map((f) => f.path).sort()).toEqual(readdirSync(modelDir).sort());
    expect(manifest.model.config).toEqual(JSON.parse(readFileSync(join(modelDir, 'config.json'), 'utf8')));
    const sha256 = (bytes: Buffer) => createHash('sha256').update(bytes).digest('hex');
    for (const file of manifest.model.files) {
      const local = readFileSync(join(modelDir, file.path));
      expectSameBytes(await storedBytes(`tiny/v1/${file.path}`), local);
      expect(file.sha256).toBe(sha256(local));
      expect(file.chunks.length).toBe(Math.ceil(file.size / CHUNK));
      for (const c of file.chunks) expect(c.sha256).toBe(sha256(local.subarray(c.offset, c.offset + c.size)));
      // Tensor ranges as in the header; their block hashes are checked in weights_slices.test.ts.
      if (file.kind === 'weights') expect(file.tensors!.map(({ blocks: _, ...t }) => t)).toEqual(await readSafetensorsHeader(join(modelDir, file.path)));
    }
    expect(manifest.model.files.map((f) => f.kind).sort()).toEqual(['config', 'index', 'tokenizer', 'tokenizer', 'weights', 'weights', 'weights']);
    expect(manifest.model.files.find((f) => f.path === BIG_SHARD)!.chunks.length).toBeGreaterThan(3);
  });

  it('writes the manifest last, after deleting the old one, and skips an unchanged model', async () => {
    const writes: string[] = [];
    const watching = hookedS3Client((name, input) => {
      if (/Put|Multipart|Delete/.test(name)) writes.push(`${name} ${input.Key}`);
    });
    const other = await models.make({ preset: 'mixtral-tiny', seed: 8, shards: 3 });
    writeFileSync(join(other, 'notes.txt'), 'any file in the directory is part of the model\n');
    await pushModel(other, `s3://${BUCKET}/order`, { chunkSize: CHUNK, progress: null, client: watching });
    expect(writes[0]).toBe('DeleteObjectCommand order/manifest.json');
    expect(writes.at(-1)).toBe('PutObjectCommand order/manifest.json');
    expect(writes.filter((w) => w.includes('manifest.json'))).toHaveLength(2);
    writes.length = 0;
    const again = await pushModel(other, `s3://${BUCKET}/order`, { chunkSize: CHUNK, progress: null, client: watching });
    expect(again.unchanged).toBe(true);
    expect(writes).toEqual([]);
  });
});

describe('--model s3://…', () => {
  it('sirocco logits prints the same as for the local directory, and a restart downloads nothing', async () => {
    const args = ['logits', '--prompt', '1,5,9,200', '--prompt', '3,4', '--steps', '3'];
    const cache = { SIROCCO_CACHE_DIR: freshCache() };
    const local = await sirocco([...args, '--model', modelDir]);
    const remote = await sirocco([...args, '--model', MODEL], cache);
    expect(local.code).toBe(0);
    expect(remote.code).toBe(0);
    expect(remote.stdout).toBe(local.stdout);
    expect(remote.stderr).toMatch(/fetch s3:\/\/models\/tiny\/v1: 7 of 7 files verified/);
    const again = await sirocco([...args, '--model', MODEL], cache);
    expect(again.stdout).toBe(local.stdout);
    expect(again.stderr).toBe(''); // everything came from the verified cache
  });

  it('sirocco node serves a model from S3, named after the prefix, with download metrics', async () => {
    const node = await startSirocco(['node', '--model', MODEL, '--port', '0'], { ...s3.env, SIROCCO_CACHE_DIR: freshCache() });
    try {
      const headers = { [NODE_SECRET_HEADER]: NODE_SECRET };
      expect(await (await fetch(`${node.url}/internal/v1/ready`, { headers })).json()).toMatchObject({ ready: true, model: 'v1' });
      const metrics = await (await fetch(`${node.url}/internal/v1/metrics`, { headers })).text();
      const total = readdirSync(modelDir).reduce((n, f) => n + readFileSync(join(modelDir, f)).length, 0);
      const metric = (name: string) => Number(new RegExp(`^${name}(?:\\{[^}]*\\})? (\\S+)$`, 'm').exec(metrics)?.[1]);
      expect(metric('sirocco_node_weights_bytes_total')).toBe(total);
      expect(metric('sirocco_node_weights_bytes_verified')).toBe(total);
      expect(metric('sirocco_node_weights_bytes_downloaded')).toBe(total);
      expect(metric('sirocco_node_weights_bytes_cached')).toBe(0);
    } finally {
      await node.stop();
    }
  });

  it('a second resolve of the same URI downloads 0 bytes', async () => {
    const cacheDir = freshCache();
    const first = newFetchStats(MODEL);
    const second = newFetchStats(MODEL);
    const dir = await resolveModelDir(MODEL, { cacheDir, stats: first, progress: null });
    expect(await resolveModelDir(MODEL, { cacheDir, stats: second, progress: null })).toBe(dir);
    expect(first.receivedBytes).toBe(first.totalBytes);
    expect(second).toMatchObject({ receivedBytes: 0, cachedBytes: first.totalBytes, done: true });
  });

  it('two resolves at once share one download', async () => {
    const cacheDir = freshCache();
    const stats = [newFetchStats(MODEL), newFetchStats(MODEL)];
    const dirs = await Promise.all(stats.map((s) => resolveModelDir(MODEL, { cacheDir, stats: s, progress: null })));
    expect(dirs[1]).toBe(dirs[0]);
    expect(stats[0]!.receivedBytes + stats[1]!.receivedBytes).toBe(stats[0]!.totalBytes);
    expect(await verifyLocalModel(dirs[0]!, null)).toMatchObject({ files: 7 });
  });

  it('refuses malformed hf: URIs and missing directories with what to do', async () => {
    await expect(resolveModelDir('hf:no-slash')).rejects.toThrow(/expected hf:org\/name/);
    await expect(resolveModelDir(join(scratch, 'nope'))).rejects.toThrow(/nope\/config\.json: not found: no such model directory/);
    await expect(resolveModelDir('s3://Bad_Bucket/x')).rejects.toThrow(/not a valid bucket name/);
  });
});

describe('refusals', () => {
  it('one flipped byte in a stored object: checksum error naming the file and chunk, nothing served', async () => {
    await push('corrupt');
    await flipStoredByte('corrupt', BIG_SHARD, 2 * CHUNK + 100); // inside chunk 2
    const named = new RegExp(`checksum mismatch in ${BIG_SHARD.replace(/\./g, '\\.')} chunk 2 \\(bytes ${2 * CHUNK}-`);

    const error = await fetchModel(`s3://${BUCKET}/corrupt`, { cacheDir: freshCache(), progress: null }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ChecksumError);
    expect((error as Error).message).toMatch(named);

    const logits = await sirocco(['logits', '--model', `s3://${BUCKET}/corrupt`, '--prompt', '1,2'], { SIROCCO_CACHE_DIR: freshCache() });
    expect(logits.code).toBe(1);
    expect(logits.stdout).toBe('');
    expect(logits.stderr).toMatch(named);

    const node = await sirocco(['node', '--model', `s3://${BUCKET}/corrupt`, '--port', '0'], { SIROCCO_CACHE_DIR: freshCache(), SIROCCO_NODE_SECRET: 'test-node-secret-0123456789' });
    expect(node.code).toBe(1);
    expect(node.stdout).not.toContain('"event":"ready"');
    expect(node.stderr).toMatch(named);

    const verify = await inProcess(runVerify, [`s3://${BUCKET}/corrupt`]);
    expect(verify.code).toBe(1);
    expect(verify.stderr).toMatch(named);
  });

  it('a missing object or manifest: a clear error', async () => {
    await push('missing');
    await client.send(new DeleteObjectCommand({ Bucket: BUCKET, Key: 'missing/model-00003-of-00003.safetensors' }));
    await expect(fetchModel(`s3://${BUCKET}/missing`, { cacheDir: freshCache(), progress: null })).rejects.toThrow(
      /s3:\/\/models\/missing\/model-00003-of-00003\.safetensors: missing object .*push it again/,
    );
    await expect(fetchModel(`s3://${BUCKET}/never-pushed`, { cacheDir: freshCache(), progress: null })).rejects.toThrow(
      /no manifest: s3:\/\/models\/never-pushed is not a pushed model.*sirocco weights push/,
    );
  });

  it('an object changed mid-download (new ETag): stops, naming the file and chunk', async () => {
    await push('changing');
    let replaced = false;
    const racing = hookedS3Client(async (name, input) => {
      // Before chunk 3 of the big shard is requested, someone re-pushes that object.
      if (name === 'GetObjectCommand' && input.Key === `changing/${BIG_SHARD}` && input.Range?.startsWith(`bytes=${3 * CHUNK}-`) && !replaced) {
        replaced = true;
        await flipStoredByte('changing', BIG_SHARD, 10);
      }
    });
    const error = await fetchModel(`s3://${BUCKET}/changing`, { cacheDir: freshCache(), progress: null, client: racing, concurrency: 1 }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ObjectChangedError);
    expect((error as Error).message).toMatch(new RegExp(`changed while it was being downloaded .*${BIG_SHARD.replace(/\./g, '\\.')} chunk 3`));

    // A store that honours If-Match answers 412 instead; same refusal.
    const honouring = hookedS3Client((name, input) => {
      if (name === 'GetObjectCommand' && input.Range?.startsWith(`bytes=${CHUNK}-`))
        throw Object.assign(new Error('At least one of the pre-conditions you specified did not hold'), { name: 'PreconditionFailed', $metadata: { httpStatusCode: 412 } });
    });
    const refused = await fetchModel(MODEL, { cacheDir: freshCache(), progress: null, client: honouring }).catch((e: unknown) => e);
    expect(refused).toBeInstanceOf(ObjectChangedError);
    expect((refused as Error).message).toMatch(/412 Precondition Failed, at model-\d+-of-00003\.safetensors chunk 1 \(bytes/);
  });
});

describe('resume', () => {
  it('an interrupted download resumes, fetching only what was missing, and ends verified', async () => {
    const cacheDir = freshCache();
    const first = newFetchStats(MODEL);
    const stop = new AbortController();
    const interrupted = await fetchModel(MODEL, {
      cacheDir, stats: first, progress: null, concurrency: 2, signal: stop.signal,
      onChunk: (event) => {
        if (event.path === BIG_SHARD && event.index === 2) stop.abort();
      },
    }).catch((e: unknown) => e);
    expect((interrupted as Error).name).toBe('AbortError');
    expect(first.verifiedBytes).toBeGreaterThan(0);
    expect(first.verifiedBytes).toBeLessThan(first.totalBytes);

    // A transient 503 on the way is retried, not fatal.
    let failedOnce = false;
    const flaky = hookedS3Client((name, input) => {
      if (name === 'GetObjectCommand' && input.Range !== undefined && !failedOnce) {
        failedOnce = true;
        throw Object.assign(new Error('Service Unavailable'), { name: 'ServiceUnavailable', $metadata: { httpStatusCode: 503 } });
      }
    });
    const second: FetchStats = newFetchStats(MODEL);
    const { dir } = await fetchModel(MODEL, { cacheDir, stats: second, progress: null, client: flaky, retry: { baseDelayMs: 1 } });
    expect(second.retries).toBe(1);
    expect(second.cachedBytes).toBe(first.verifiedBytes); // resumed chunks and finished files
    expect(second.receivedBytes).toBe(second.totalBytes - first.verifiedBytes); // only the missing bytes
    expect(second.verifiedBytes).toBe(second.receivedBytes); // none re-fetched or wasted
    expect(await verifyLocalModel(dir, null)).toMatchObject({ files: 7 });
    for (const name of readdirSync(modelDir)) expectSameBytes(readFileSync(join(dir, name)), readFileSync(join(modelDir, name)));
    expect(readdirSync(dir).filter((n) => n.endsWith('.partial'))).toEqual([]);
  });

  it('a chunk the ledger claims but whose bytes were lost is re-checked and fetched again', async () => {
    const cacheDir = freshCache();
    const stop = new AbortController();
    const first = newFetchStats(MODEL);
    await fetchModel(MODEL, {
      cacheDir, stats: first, progress: null, concurrency: 1, signal: stop.signal,
      onChunk: (event) => {
        if (event.path === BIG_SHARD && event.index === 1) stop.abort();
      },
    }).catch(() => undefined);
    const dir = readdirSync(cacheDir).map((n) => join(cacheDir, n))[0]!;
    const partial = join(dir, `${BIG_SHARD}.partial`);
    const bytes = readFileSync(partial);
    bytes[CHUNK + 5]! ^= 1; // chunk 1 was verified and recorded; a crash "lost" one of its bytes
    writeFileSync(partial, bytes);
    const second = newFetchStats(MODEL);
    await fetchModel(MODEL, { cacheDir, stats: second, progress: null });
    expect(second.receivedBytes).toBe(second.totalBytes - first.verifiedBytes + CHUNK);
    expect(await verifyLocalModel(dir, null)).toMatchObject({ files: 7 });
  });
});

describe('sirocco weights pull / verify (in process)', () => {
  it('pull writes a verified copy with its manifest; verify checks stored objects and local copies', async () => {
    const into = join(scratch, 'pulled');
    const pulled = await inProcess(runPull, [MODEL, into, '--quiet']);
    expect(pulled.code).toBe(0);
    expect(pulled.stdout).toMatch(/^pulled s3:\/\/models\/tiny\/v1 into .*: 7 files/);
    for (const name of readdirSync(modelDir)) expectSameBytes(readFileSync(join(into, name)), readFileSync(join(modelDir, name)));

    const remote = await inProcess(runVerify, [MODEL]);
    expect(remote.code).toBe(0);
    expect(remote.stdout).toMatch(/^verified s3:\/\/models\/tiny\/v1: 7 files/);

    const local = await inProcess(runVerify, [into, '--quiet']);
    expect(local.code).toBe(0);
    const weights = readFileSync(join(into, BIG_SHARD));
    weights[weights.length - 1]! ^= 1;
    writeFileSync(join(into, BIG_SHARD), weights);
    const bad = await inProcess(runVerify, [into, '--quiet']);
    expect(bad.code).toBe(1);
    expect(bad.stderr).toMatch(new RegExp(`checksum mismatch in ${BIG_SHARD.replace(/\./g, '\\.')} chunk \\d+`));

    const usage = await inProcess(runPull, ['not-a-uri', into]);
    expect(usage.code).toBe(1);
    expect(usage.stderr).toContain('expected s3://bucket/prefix');
  });
});
