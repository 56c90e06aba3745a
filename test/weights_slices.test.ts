// Shard-aware partial fetching (issue 8 §4) against a real S3-compatible server (s3rver):
// manifest v2 (tensor blocks, header hashes, column-chunked copies), v1 manifests still
// pulled, row and column slices equal to bytes cut locally from the safetensors files, bytes
// downloaded ≈ the slice (to block rounding), corrupt blocks refused naming the tensor, and
// slices delivered while the rest still downloads.
import { GetObjectCommand, PutObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readSafetensorsHeader } from '../src/engine/safetensors.ts';
import { ChecksumError } from '../src/weights/errors.ts';
import { fetchSafetensorsHeader } from '../src/weights/fetch_header.ts';
import { fetchModel, readRemoteManifest } from '../src/weights/fetch_model.ts';
import { fetchTensorSlices, type SliceRequest } from '../src/weights/fetch_slices.ts';
import { verifyLocalModel } from '../src/weights/local_verify.ts';
import { Manifest, parseManifest, type ManifestTensor } from '../src/weights/manifest.ts';
import { pushModel } from '../src/weights/push.ts';
import { verifyRemoteModel } from '../src/weights/remote_verify.ts';
import { parseS3Uri, s3ClientFromEnv } from '../src/weights/s3_location.ts';
import { quantizeModel } from '../weights-tools/quantize.ts';
import { TempModels } from './helpers/models.ts';
import { hookedS3Client, startLocalS3, type LocalS3 } from './helpers/s3rver.ts';

const BUCKET = 'models';
const BLOCK = 4096; // small blocks: a test tensor spans many, as a real one spans many 1 MiB blocks
const CHUNK = 64 << 10;
// Elements per block and bytes per block of each dtype, written out here (not imported) so the
// expected slices do not share code with the fetcher.
const LAYOUT: Record<string, [number, number]> = { F32: [1, 4], F16: [1, 2], BF16: [1, 2], Q8_0: [32, 34], Q4_0: [32, 18] };

const models = new TempModels();
const scratch = mkdtempSync(join(tmpdir(), 'sirocco-slices-'));
let s3: LocalS3;
let client: S3Client;
const dirs: Record<string, string> = {};
const manifests: Record<string, Manifest> = {};

const sha256 = (b: Uint8Array) => createHash('sha256').update(b).digest('hex');
const storedBytes = async (key: string) => Buffer.from(await (await client.send(new GetObjectCommand({ Bucket: BUCKET, Key: key }))).Body!.transformToByteArray());
const put = (key: string, body: Buffer | string) => client.send(new PutObjectCommand({ Bucket: BUCKET, Key: key, Body: body }));
const expectSameBytes = (actual: Buffer | undefined, expected: Buffer, what: string) =>
  expect(actual !== undefined && actual.equals(expected), `${what}: ${actual?.length} vs ${expected.length} bytes`).toBe(true);

/** The tensor's entry and its file, by name. */
function find(manifest: Manifest, name: string): { path: string; tensor: ManifestTensor } {
  for (const f of manifest.model.files) for (const t of f.tensors ?? []) if (t.name === name) return { path: f.path, tensor: t };
  throw new Error(`no tensor ${name}`);
}

/** The slice cut from the local safetensors file: rows, then columns of each row. */
function localSlice(dir: string, manifest: Manifest, request: SliceRequest): Buffer {
  const { path, tensor } = find(manifest, request.tensor);
  const bytes = readFileSync(join(dir, path)).subarray(tensor.offset, tensor.offset + tensor.bytes);
  const rows = tensor.shape[0]!;
  const rowBytes = tensor.bytes / rows;
  const [r0, r1] = request.rows ?? [0, rows];
  if (!request.cols) return Buffer.from(bytes.subarray(r0 * rowBytes, r1 * rowBytes));
  const [elements, blockBytes] = LAYOUT[tensor.dtype]!;
  const at = (col: number) => (col / elements) * blockBytes;
  const [c0, c1] = request.cols;
  const pieces = [];
  for (let r = r0; r < r1; r++) pieces.push(bytes.subarray(r * rowBytes + at(c0), r * rowBytes + at(c1)));
  return Buffer.concat(pieces);
}

/** Fetches the requests and returns the slices by request index, with the fetch's counts. */
async function fetchAll(model: string, requests: SliceRequest[], extra: Parameters<typeof fetchTensorSlices>[3] = {}) {
  const slices: Buffer[] = [];
  const result = await fetchTensorSlices(`s3://${BUCKET}/${model}`, manifests[model]!, requests, { ...extra, onSlice: (_r, bytes, i) => void (slices[i] = bytes) });
  return { slices, result };
}

beforeAll(async () => {
  s3 = await startLocalS3([BUCKET]);
  s3.useEnv();
  client = s3ClientFromEnv();
  // down_proj is (256, 1024) f16: 512 KiB, 128 blocks of 4 KiB. wo is (256, 64).
  dirs.dense = await models.make({ preset: 'mistral-tiny', seed: 3, dtype: 'f16', hidden: 256, intermediate: 1024 });
  dirs.dense_q8 = join(models.root, 'dense-q8_0');
  await quantizeModel({ source: dirs.dense, to: 'q8_0', out: dirs.dense_q8, quiet: true });
  // Experts, two shards, Q4_0; and BF16 with intermediate 80: w2's last column chunk is 16 wide.
  const moe = await models.make({ preset: 'mixtral-tiny', seed: 4, dtype: 'f16', shards: 2 });
  dirs.moe_q4 = join(models.root, 'moe-q4_0');
  await quantizeModel({ source: moe, to: 'q4_0', out: dirs.moe_q4, quiet: true });
  dirs.narrow = await models.make({ preset: 'mistral-tiny', seed: 5, dtype: 'bf16', intermediate: 80 });
  for (const [name, dir] of Object.entries(dirs)) {
    await pushModel(dir, `s3://${BUCKET}/${name}`, { chunkSize: CHUNK, blockBytes: BLOCK, progress: null });
    manifests[name] = (await readRemoteManifest(client, parseS3Uri(`s3://${BUCKET}/${name}`))).manifest;
  }
});

afterAll(async () => {
  await s3?.close();
  models.cleanup();
  rmSync(scratch, { recursive: true, force: true });
});

const DOWN = 'model.layers.1.mlp.down_proj.weight';
const O_PROJ = 'model.layers.0.self_attn.o_proj.weight';
const EXPERT_W2 = 'model.layers.1.block_sparse_moe.experts.2.w2.weight';

describe('manifest v2', () => {
  it('hashes every tensor block and header, and lists a column-chunked copy of wo, w2 and every expert w2', async () => {
    for (const [name, dir] of Object.entries(dirs)) {
      const manifest = manifests[name]!;
      expect(manifest.version).toBe(2);
      expect(manifest.model.block_bytes).toBe(BLOCK);
      const chunked = new Set<string>();
      for (const file of manifest.model.files.filter((f) => f.kind === 'weights')) {
        const local = readFileSync(join(dir, file.path));
        const header = await readSafetensorsHeader(join(dir, file.path));
        expect(file.tensors!.map(({ blocks: _, ...t }) => t)).toEqual(header);
        expect(file.header).toEqual({ bytes: Math.min(...header.map((t) => t.offset)), sha256: sha256(local.subarray(0, file.header!.bytes)) });
        for (const t of file.tensors!) {
          const expected = [];
          for (let at = 0; at < t.bytes; at += BLOCK) expected.push(sha256(local.subarray(t.offset + at, t.offset + Math.min(t.bytes, at + BLOCK))));
          expect(t.blocks).toEqual(expected);
        }
        const copy = manifest.model.colchunks!.find((c) => c.source === file.path);
        for (const t of copy?.tensors ?? []) chunked.add(t.name);
        if (copy) expect(copy.object).toBe(`sirocco-colchunks/${file.path}.bin`);
        if (copy) expect(sha256(await storedBytes(`${name}/${copy.object}`))).toBe(copy.sha256);
      }
      const all = manifest.model.files.flatMap((f) => (f.tensors ?? []).map((t) => t.name));
      expect([...chunked].sort()).toEqual(all.filter((n) => /o_proj|down_proj|experts\.\d+\.w2\./.test(n)).sort());
    }
  });

  it('a v1 manifest still parses, pulls, verifies, and serves slices from its 64 MiB chunks', async () => {
    const v2 = manifests.dense!;
    const v1 = structuredClone(v2) as unknown as { version: number; model: Record<string, unknown> & { files: Record<string, unknown>[] } };
    v1.version = 1;
    delete v1.model.block_bytes;
    delete v1.model.colchunks;
    for (const f of v1.model.files) {
      delete f.header;
      for (const t of (f.tensors ?? []) as Record<string, unknown>[]) delete t.blocks;
    }
    for (const f of v2.model.files) await put(`v1/${f.path}`, readFileSync(join(dirs.dense!, f.path)));
    await put('v1/manifest.json', JSON.stringify(v1));
    const manifest = parseManifest(JSON.stringify(v1), 'v1');
    expect(manifest.version).toBe(1);

    const into = join(scratch, 'pulled-v1');
    await fetchModel(`s3://${BUCKET}/v1`, { into, progress: null });
    expect(await verifyLocalModel(into, null)).toMatchObject({ files: v2.model.files.length });
    await expect(verifyRemoteModel(`s3://${BUCKET}/v1`, { progress: null })).resolves.toMatchObject({ colChunkObjects: 0 });

    manifests.v1 = manifest;
    const requests: SliceRequest[] = [{ tensor: DOWN, rows: [3, 70] }, { tensor: DOWN, cols: [32, 96] }];
    const { slices, result } = await fetchAll('v1', requests);
    requests.forEach((r, i) => expectSameBytes(slices[i], localSlice(dirs.dense!, v2, r), JSON.stringify(r)));
    const file = v2.model.files.find((f) => f.path === 'model.safetensors')!;
    expect(result.verifiedBytes).toBeLessThanOrEqual(file.size); // whole chunks, never more than the file
    await expect(fetchSafetensorsHeader(`s3://${BUCKET}/v1`, manifest, 'model.safetensors')).rejects.toThrow(/version 1.*push the model again/);
  });

  it('fetches a safetensors header alone, verified', async () => {
    const { tensors } = await fetchSafetensorsHeader(`s3://${BUCKET}/moe_q4`, manifests.moe_q4!, 'model-00002-of-00002.safetensors');
    expect(tensors.map((t) => [t.name, t.offset])).toEqual((await readSafetensorsHeader(join(dirs.moe_q4!, 'model-00002-of-00002.safetensors'))).map((t) => [t.name, t.offset]));
  });
});

describe('fetchTensorSlices', () => {
  it.each([
    ['dense', 'f16'],
    ['dense_q8', 'q8_0'],
  ])('%s (%s): whole tensors, row, column and row×column slices equal the local bytes', async (model) => {
    const requests: SliceRequest[] = [
      { tensor: DOWN },
      { tensor: DOWN, rows: [0, 128] },
      { tensor: DOWN, rows: [17, 201] },
      { tensor: DOWN, cols: [0, 512] },
      { tensor: DOWN, cols: [480, 1024] },
      { tensor: DOWN, rows: [5, 9], cols: [64, 128] },
      { tensor: O_PROJ, cols: [32, 64] },
      { tensor: 'model.layers.0.self_attn.q_proj.weight', rows: [16, 48] }, // no copy: rows of the original
      { tensor: 'model.layers.0.self_attn.q_proj.weight', cols: [64, 128] }, // no copy: whole rows fetched, columns cut
      { tensor: 'model.norm.weight' },
    ];
    const { slices, result } = await fetchAll(model, requests);
    requests.forEach((r, i) => {
      expectSameBytes(slices[i], localSlice(dirs[model]!, manifests[model]!, r), JSON.stringify(r));
      expect(result.requests[i]!.sliceBytes).toBe(slices[i]!.length);
    });
    expect(result.requests[3]!.shape).toEqual([256, 512]);
    expect(result.requests[5]!.shape).toEqual([4, 64]);
  });

  it('experts (Q4_0, two shards) and a float tensor whose last column chunk is narrower (BF16, 80 columns)', async () => {
    const moe: SliceRequest[] = [{ tensor: EXPERT_W2, cols: [32, 96] }, { tensor: EXPERT_W2, rows: [10, 50], cols: [0, 32] }, { tensor: 'model.layers.0.block_sparse_moe.experts.0.w2.weight', cols: [64, 96] }];
    const a = await fetchAll('moe_q4', moe);
    moe.forEach((r, i) => expectSameBytes(a.slices[i], localSlice(dirs.moe_q4!, manifests.moe_q4!, r), JSON.stringify(r)));
    const w2 = 'model.layers.0.mlp.down_proj.weight';
    const narrow: SliceRequest[] = [{ tensor: w2, cols: [64, 80] }, { tensor: w2, cols: [32, 80] }, { tensor: w2, rows: [1, 3], cols: [64, 80] }, { tensor: w2, cols: [0, 64] }];
    const b = await fetchAll('narrow', narrow);
    narrow.forEach((r, i) => expectSameBytes(b.slices[i], localSlice(dirs.narrow!, manifests.narrow!, r), JSON.stringify(r)));
  });

  it('downloads about half the tensor for half its rows, and for half its columns through the copy', async () => {
    const down = find(manifests.dense!, DOWN).tensor; // (256, 1024) f16, 2048 bytes a row
    const rowBytes = 2048;
    /** Bytes of the BLOCK-sized blocks of the tensor that cover [from, to). */
    const covering = (from: number, to: number) => Math.min(down.bytes, (Math.floor((to - 1) / BLOCK) + 1) * BLOCK) - Math.floor(from / BLOCK) * BLOCK;
    const half = down.bytes / 2;
    for (const rows of [[0, 128], [37, 165]] as [number, number][]) {
      const { result } = await fetchAll('dense', [{ tensor: DOWN, rows }]);
      const expected = covering(rows[0] * rowBytes, rows[1] * rowBytes);
      expect(result.downloadedBytes).toBe(expected);
      expect(result.requests[0]!.downloadedBytes).toBe(expected);
      expect(expected).toBeLessThanOrEqual(half + BLOCK); // one block of rounding at most
      expect(expected).toBeGreaterThanOrEqual(half);
    }
    // Columns [512, 1024) are chunks 16..31 of the copy: rows × 64 bytes each, back to back.
    const cols = await fetchAll('dense', [{ tensor: DOWN, cols: [512, 1024] }]);
    expect(cols.result.downloadedBytes).toBe(covering(16 * 256 * 64, 32 * 256 * 64));
    expect(cols.result.downloadedBytes).toBe(half);
    // Without a copy (q_proj) a column slice costs the whole rows.
    const q = find(manifests.dense!, 'model.layers.0.self_attn.q_proj.weight').tensor;
    const noCopy = await fetchAll('dense', [{ tensor: q.name, cols: [0, 128] }]);
    expect(noCopy.result.downloadedBytes).toBe(q.bytes);
    // Two requests sharing a block fetch it once; each reports what it needed.
    const shared = await fetchAll('dense', [{ tensor: DOWN, rows: [0, 3] }, { tensor: DOWN, rows: [1, 2] }]);
    expect(shared.result.downloadedBytes).toBe(BLOCK * 2);
    expect(shared.result.requests.map((r) => r.downloadedBytes)).toEqual([BLOCK * 2, BLOCK]);
  });

  it('a flipped byte in a stored object: the fetch fails naming the tensor and block', async () => {
    const manifest = manifests.dense!;
    for (const f of manifest.model.files) await put(`corrupt/${f.path}`, readFileSync(join(dirs.dense!, f.path)));
    for (const c of manifest.model.colchunks!) await put(`corrupt/${c.object}`, await storedBytes(`dense/${c.object}`));
    await put('corrupt/manifest.json', JSON.stringify(manifest));
    manifests.corrupt = manifest;
    const { path, tensor } = find(manifest, DOWN);
    const bytes = readFileSync(join(dirs.dense!, path));
    bytes[tensor.offset + 5 * BLOCK + 7]! ^= 0x40; // block 5: rows 10..11
    await put(`corrupt/${path}`, bytes);

    const error = await fetchAll('corrupt', [{ tensor: 'model.norm.weight' }, { tensor: DOWN, rows: [8, 16] }]).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ChecksumError);
    expect((error as Error).message).toMatch(new RegExp(`checksum mismatch in tensor ${DOWN.replace(/\./g, '\\.')} block 5 \\(bytes ${tensor.offset + 5 * BLOCK}-`));
    // Slices that do not touch the bad block are still served.
    await expect(fetchAll('corrupt', [{ tensor: DOWN, rows: [0, 10] }])).resolves.toBeDefined();

    const copy = manifest.model.colchunks!.find((c) => c.tensors.some((t) => t.name === DOWN))!;
    const stored = await storedBytes(`corrupt/${copy.object}`);
    stored[copy.tensors.find((t) => t.name === DOWN)!.offset + 3]! ^= 1;
    await put(`corrupt/${copy.object}`, stored);
    await expect(fetchAll('corrupt', [{ tensor: DOWN, cols: [0, 32] }])).rejects.toThrow(/checksum mismatch in tensor model\.layers\.1\.mlp\.down_proj\.weight \(column-chunked copy\) block 0/);
    await expect(verifyRemoteModel(`s3://${BUCKET}/corrupt`, { progress: null })).rejects.toThrow(/checksum mismatch/);
  });

  it('delivers each slice as soon as it is complete, while later ones still download', async () => {
    const requests: SliceRequest[] = [{ tensor: DOWN, rows: [0, 16] }, { tensor: DOWN, rows: [64, 128] }, { tensor: DOWN, cols: [0, 256] }];
    const events: string[] = [];
    let firstDelivered!: () => void;
    const delivered = new Promise<void>((resolve) => (firstDelivered = resolve));
    const { tensor } = find(manifests.dense!, DOWN);
    const holding = hookedS3Client(async (_command, input) => {
      // The GETs of the last slice (the column-chunked copy) wait for the first slice's delivery:
      // if onSlice only ran at the end, this would never resolve.
      if (input.Key?.includes('sirocco-colchunks')) {
        const timeout = new Promise((_, reject) => setTimeout(() => reject(new Error('slice 0 was not delivered while others were downloading')), 10_000));
        await Promise.race([delivered, timeout]);
      }
      events.push(`GET ${input.Range}`);
    });
    const slices: Buffer[] = [];
    const result = await fetchTensorSlices(`s3://${BUCKET}/dense`, manifests.dense!, requests, {
      client: holding,
      concurrency: 2,
      maxGetBytes: 2 * BLOCK,
      onSlice: (_request, bytes, i) => {
        events.push(`slice ${i}`);
        slices[i] = bytes;
        if (i === 0) firstDelivered();
      },
    });
    events.push('resolved');
    const lastGet = events.reduce((last, e, i) => (e.startsWith('GET') ? i : last), -1);
    expect(events.indexOf('slice 0')).toBeLessThan(lastGet);
    expect(events.at(-1)).toBe('resolved');
    expect(events.filter((e) => e.startsWith('slice')).sort()).toEqual(['slice 0', 'slice 1', 'slice 2']);
    requests.forEach((r, i) => expectSameBytes(slices[i], localSlice(dirs.dense!, manifests.dense!, r), JSON.stringify(r)));
    expect(result.downloadedBytes).toBe(16 * 2048 + 64 * 2048 + tensor.bytes / 4);
  });

  it('refuses requests it cannot serve before any download, naming the tensor', async () => {
    const m = manifests.dense!;
    const uri = `s3://${BUCKET}/dense`;
    await expect(fetchTensorSlices(uri, m, [{ tensor: 'nope' }])).rejects.toThrow(/tensor nope is not in the manifest/);
    await expect(fetchTensorSlices(uri, m, [{ tensor: DOWN, cols: [16, 64] }])).rejects.toThrow(/down_proj\.weight: columns \[16, 64\) must start at a multiple of 32/);
    await expect(fetchTensorSlices(uri, m, [{ tensor: DOWN, rows: [0, 257] }])).rejects.toThrow(/down_proj\.weight: rows \[0, 257\) is out of range: it has 256/);
    await expect(fetchTensorSlices(uri, m, [{ tensor: DOWN, rows: [4, 4] }])).rejects.toThrow(/non-empty/);
    await expect(fetchTensorSlices(uri, m, [{ tensor: 'model.norm.weight', cols: [0, 32] }])).rejects.toThrow(/norm\.weight: column slices need a 2-D tensor/);
  });
});
