// Cold start from S3 to first token, against the time to only download the same bytes from the
// same server (DESIGN.md §1, issue #4: target ≤ 1.2×). The server is s3rver in its own process:
// a correctness stand-in (~0.2 GB/s), so compare the ratio, not the absolute speeds.
// With --tp N (default 2) it also times a sharded cold start, where each shard fetches only
// its own slices (src/weights/shard_load.ts), and reports bytes and seconds per shard.
//   node --import tsx bench/cold_start.ts [--preset sirocco-default] [--dtype f16] [--chunk-mb 64]
//                                         [--concurrency 8] [--runs 3] [--threads N] [--tp 2] [--block-kb 64]
//   npm run bench runs it with the defaults (--skip-cold-start leaves it out)
import { GetObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { parseArgs } from 'node:util';
import { z } from 'zod';
import { Engine } from '../src/engine/engine.ts';
import { argmax } from '../src/engine/greedy.ts';
import { fetchModel, newFetchStats, readRemoteManifest } from '../src/weights/fetch_model.ts';
import { Limiter } from '../src/weights/limiter.ts';
import { pushModel } from '../src/weights/push.ts';
import { parseS3Uri, s3ClientFromEnv } from '../src/weights/s3_location.ts';
import { loadShardedFromS3, type ShardDownload } from '../src/weights/shard_load.ts';
import { makeTiny } from '../weights-tools/make_tiny.ts';

const Options = z.object({
  preset: z.enum(['sirocco-default', 'mixtral-tiny', 'mistral-tiny', 'mixtral-mini', 'mistral-mini']).default('sirocco-default'),
  dtype: z.enum(['f16', 'bf16', 'f32']).default('f16'),
  'chunk-mb': z.coerce.number().positive().default(64),
  concurrency: z.coerce.number().int().positive().default(8),
  runs: z.coerce.number().int().positive().default(3),
  threads: z.coerce.number().int().nonnegative().default(0),
  tp: z.coerce.number().int().min(1).default(2),
  // Hash blocks: a shard fetches whole blocks. 64 KiB cuts this tiny model's 256 KB expert
  // tensors about as finely as the default 1 MiB cuts a real model's 100+ MB ones.
  'block-kb': z.coerce.number().int().positive().default(64),
});
export type ColdStartOptions = z.input<typeof Options>;

const log = (s: string) => process.stderr.write(s + '\n');
const now = () => performance.now() / 1000;
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

async function startServer(bucket: string): Promise<{ endpoint: string; stop: () => void }> {
  const child = spawn(process.execPath, ['--import', 'tsx', join(import.meta.dirname, 's3rver_process.ts'), bucket, join('.bench', 's3rver')], { stdio: ['ignore', 'pipe', 'inherit'] });
  const line = await new Promise<string>((resolve, reject) => {
    createInterface({ input: child.stdout! }).once('line', resolve);
    child.once('exit', (code) => reject(new Error(`s3rver exited with ${code}`)));
  });
  const { endpoint } = z.object({ endpoint: z.string() }).parse(JSON.parse(line));
  return { endpoint, stop: () => child.kill('SIGTERM') };
}

/** The same ranged GETs a cold start makes (same chunks, same parallelism), bytes discarded. */
async function downloadOnly(client: S3Client, uri: string, concurrency: number): Promise<number> {
  const location = parseS3Uri(uri);
  const { manifest } = await readRemoteManifest(client, location);
  const limiter = new Limiter(concurrency);
  let bytes = 0;
  await Promise.all(
    manifest.model.files.flatMap((file) =>
      file.chunks.map((chunk) =>
        limiter.run(async () => {
          const key = location.prefix ? `${location.prefix}/${file.path}` : file.path;
          const response = await client.send(new GetObjectCommand({ Bucket: location.bucket, Key: key, Range: `bytes=${chunk.offset}-${chunk.offset + chunk.size - 1}` }));
          for await (const piece of response.Body as AsyncIterable<Uint8Array>) bytes += piece.length;
        }),
      ),
    ),
  );
  return bytes;
}

export async function runColdStartBench(options: ColdStartOptions = {}): Promise<string[]> {
  const o = Options.parse(options);
  const dir = join('.bench', 'models', `${o.preset}-${o.dtype}`);
  if (!existsSync(join(dir, 'config.json'))) {
    log(`generating ${o.preset} (${o.dtype}) into ${dir} …`);
    await makeTiny({ preset: o.preset, dtype: o.dtype, seed: 0, out: dir });
  }
  const server = await startServer('bench');
  const scratch = mkdtempSync(join(tmpdir(), 'sirocco-cold-start-'));
  try {
    Object.assign(process.env, { AWS_ENDPOINT_URL: server.endpoint, AWS_ACCESS_KEY_ID: 'S3RVER', AWS_SECRET_ACCESS_KEY: 'S3RVER', AWS_REGION: 'us-east-1' });
    const uri = `s3://bench/${o.preset}-${o.dtype}`;
    const client = s3ClientFromEnv({ maxAttempts: 1 });
    log(`pushing ${dir} to ${uri} (${server.endpoint}) …`);
    const t = now();
    const pushed = await pushModel(dir, uri, { chunkSize: Math.round(o['chunk-mb'] * 2 ** 20), blockBytes: o['block-kb'] << 10, client, progress: process.stderr });
    const pushSeconds = now() - t;

    const download: number[] = [];
    const cold: { total: number; fetch: number; load: number; first: number }[] = [];
    for (let run = 0; run < o.runs; run++) {
      log(`run ${run + 1}/${o.runs}: download only …`);
      let t0 = now();
      const bytes = await downloadOnly(client, uri, o.concurrency);
      download.push(now() - t0);
      if (bytes !== pushed.bytes) throw new Error(`downloaded ${bytes} bytes, expected ${pushed.bytes}`);

      log(`run ${run + 1}/${o.runs}: cold start (fetch + verify + cache, load, first token) …`);
      const cacheDir = join(scratch, `cache-${run}`);
      t0 = now();
      const fetched = await fetchModel(uri, { cacheDir, client, concurrency: o.concurrency, progress: null, stats: newFetchStats(uri) });
      const t1 = now();
      const engine = await Engine.load(fetched.dir, { threads: o.threads || undefined });
      const t2 = now();
      const sequence = engine.createSequence();
      const rows = await engine.step([{ sequence, tokens: Array.from({ length: 16 }, (_, i) => 1 + i) }]);
      argmax(rows[0]![0]!);
      const t3 = now();
      await engine.close();
      cold.push({ total: t3 - t0, fetch: t1 - t0, load: t2 - t1, first: t3 - t2 });
      rmSync(cacheDir, { recursive: true, force: true });
    }
    // Sharded: every shard fetches its own slices concurrently, loading each as it is verified.
    const sharded: { total: number; shards: ShardDownload[] }[] = [];
    for (let run = 0; o.tp > 1 && run < o.runs; run++) {
      log(`run ${run + 1}/${o.runs}: sharded cold start --tp ${o.tp} …`);
      const t0 = now();
      const cacheDir = join(scratch, `sharded-${run}`);
      const { engine, shards } = await loadShardedFromS3(uri, { tp: o.tp, threads: o.threads || undefined }, { cacheDir, client, progress: null });
      const sequence = engine.createSequence();
      argmax((await engine.step([{ sequence, tokens: Array.from({ length: 16 }, (_, i) => 1 + i) }]))[0]![0]!);
      sharded.push({ total: now() - t0, shards });
      await engine.close();
    }
    const mb = pushed.bytes / 1e6;
    const d = median(download);
    const c = cold.sort((a, b) => a.total - b.total)[Math.floor(cold.length / 2)]!;
    return [
      `cold start from S3 (s3rver on 127.0.0.1) · ${o.preset} ${o.dtype} · ${mb.toFixed(1)} MB in ${pushed.files} files · ${o['chunk-mb']} MiB chunks · ${o['block-kb']} KiB blocks · ${o.concurrency} parallel GETs · median of ${o.runs}`,
      pushed.unchanged
        ? `push                       ${pushSeconds.toFixed(2)} s (already stored by an earlier run: hashing and HEADs only)`
        : `push                       ${pushSeconds.toFixed(2)} s (hashing, then ${(pushed.uploadedBytes / 1e6).toFixed(1)} MB uploaded: ${(pushed.uploadedBytes / 1e6 / pushSeconds).toFixed(0)} MB/s overall)`,
      `download only              ${d.toFixed(2)} s (${(mb / d).toFixed(0)} MB/s)`,
      `cold start → first token   ${c.total.toFixed(2)} s = fetch+verify+cache ${c.fetch.toFixed(2)} + load ${c.load.toFixed(2)} + first token ${c.first.toFixed(2)}`,
      `cold start / download      ${(c.total / d).toFixed(2)}× (target ≤ 1.2×)`,
      ...(sharded.length === 0
        ? []
        : (() => {
            const m = sharded.sort((a, b) => a.total - b.total)[Math.floor(sharded.length / 2)]!;
            return [
              `sharded --tp ${o.tp} → first token ${m.total.toFixed(2)} s (${(m.total / c.total).toFixed(2)}× the whole-model cold start)`,
              ...m.shards.map(
                (s) => `  shard ${s.shard}: ${(s.downloadedBytes / 1e6).toFixed(1)} MB downloaded (${((100 * s.downloadedBytes) / pushed.bytes).toFixed(0)}% of the model) in ${s.seconds.toFixed(2)} s`,
              ),
            ];
          })()),
    ];
  } finally {
    server.stop();
    rmSync(scratch, { recursive: true, force: true });
  }
}

if (import.meta.filename === process.argv[1]) {
  const { values } = parseArgs({
    options: Object.fromEntries(['preset', 'dtype', 'chunk-mb', 'concurrency', 'runs', 'threads', 'tp', 'block-kb'].map((k) => [k, { type: 'string' as const }])),
  });
  process.stdout.write((await runColdStartBench(values)).join('\n') + '\n');
}
