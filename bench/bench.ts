// `npm run bench`: prefill and decode tokens/s on a benchmark-shaped model (DESIGN.md §4),
// with the memory bandwidth measured in the same run and decode's share of that roofline.
//   npm run bench -- [--preset mixtral-mini|mistral-mini] [--dtype f16|bf16|f32|q8_0|q4_0] [--threads N]
//                    [--prefill 256] [--decode 32] [--batch 1,4,16] [--weights-in memory|mmap]
//                    [--skip-cold-start]   (the cold start from S3 section, see bench/cold_start.ts)
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { z } from 'zod';
import { Engine } from '../src/engine/engine.ts';
import { argmax } from '../src/engine/greedy.ts';
import { nativeAddon } from '../src/engine/native.ts';
import { makeTiny } from '../weights-tools/make_tiny.ts';
import { quantizeModel } from '../weights-tools/quantize.ts';
import { decodeBytesPerToken, paramCounts } from './roofline.ts';

const Options = z.object({
  preset: z.enum(['mixtral-mini', 'mistral-mini']).default('mixtral-mini'),
  dtype: z.enum(['f16', 'bf16', 'f32', 'q8_0', 'q4_0']).default('f16'),
  threads: z.coerce.number().int().nonnegative().default(0),
  prefill: z.coerce.number().int().positive().default(256),
  decode: z.coerce.number().int().positive().default(32),
  'weights-in': z.enum(['memory', 'mmap']).default('memory'),
  batch: z
    .string()
    .default('1,4,16')
    .transform((s) => s.split(',').map(Number)),
});

const { values } = parseArgs({
  options: {
    preset: { type: 'string' },
    dtype: { type: 'string' },
    threads: { type: 'string' },
    prefill: { type: 'string' },
    decode: { type: 'string' },
    batch: { type: 'string' },
    'skip-cold-start': { type: 'boolean' },
    'weights-in': { type: 'string' },
  },
});
const opts = Options.parse(values);
const log = (s: string) => process.stderr.write(s + '\n');

const modelDir = (dtype: string) => join('.bench', 'models', `${opts.preset}-${dtype}`);
const dir = modelDir(opts.dtype);
if (!existsSync(join(dir, 'config.json'))) {
  // Quantized models are quantized from the f16 one.
  const generated = opts.dtype === 'q8_0' || opts.dtype === 'q4_0' ? 'f16' : opts.dtype;
  if (!existsSync(join(modelDir(generated), 'config.json'))) {
    log(`generating ${opts.preset} (${generated}) into ${modelDir(generated)} …`);
    await makeTiny({ preset: opts.preset, dtype: generated, seed: 0, out: modelDir(generated) });
  }
  if (generated !== opts.dtype) await quantizeModel({ source: modelDir(generated), to: opts.dtype as 'q8_0' | 'q4_0', out: dir });
}

log(`loading ${dir} (weights in ${opts['weights-in']}) …`);
const engine = await Engine.load(dir, { threads: opts.threads || undefined, weightsIn: opts['weights-in'] });
const { threadsPerShard: threads, isa } = engine.info();
const c = engine.config;
log(`model ${opts.preset} ${opts.dtype} · ${isa} kernels · ${threads} threads`);

log('measuring memory read bandwidth …');
const bandwidthGBs = nativeAddon().measureBandwidth(1 << 30, threads);

const now = () => performance.now() / 1000;
const tokens = (n: number, seed: number) => Array.from({ length: n }, (_, i) => 3 + ((seed * 7919 + i * 104729) % (c.vocabSize - 3)));

// Prefill: one sequence, the whole prompt in one step; best of 3 after a warm-up.
async function prefill(): Promise<number> {
  let best = Infinity;
  for (let rep = 0; rep < 4; rep++) {
    const s = engine.createSequence();
    const t0 = now();
    await engine.step([{ sequence: s, tokens: tokens(opts.prefill, rep) }]);
    if (rep > 0) best = Math.min(best, now() - t0);
    engine.freeSequence(s);
  }
  return opts.prefill / best;
}

// Decode: `batch` sequences with a short prompt each, then `decode` steps of one token each.
async function decode(batch: number): Promise<number> {
  const seqs = Array.from({ length: batch }, () => engine.createSequence());
  let rows = await engine.step(seqs.map((s, i) => ({ sequence: s, tokens: tokens(16, i + 1) })));
  await engine.step(seqs.map((s, i) => ({ sequence: s, tokens: [argmax(rows[i]![0]!)] }))); // warm-up
  const t0 = now();
  for (let k = 0; k < opts.decode; k++) {
    rows = await engine.step(seqs.map((s, i) => ({ sequence: s, tokens: [argmax(rows[i]![0]!)] })));
    if (process.stderr.isTTY) process.stderr.write(`\r  batch ${batch}: step ${k + 1}/${opts.decode}`);
  }
  const seconds = now() - t0;
  if (process.stderr.isTTY) process.stderr.write('\n');
  for (const s of seqs) engine.freeSequence(s);
  return (batch * opts.decode) / seconds;
}

log(`prefill ${opts.prefill} tokens …`);
const prefillTps = await prefill();
const decodeTps = new Map<number, number>();
for (const b of opts.batch) {
  log(`decode ${opts.decode} steps × batch ${b} …`);
  decodeTps.set(b, await decode(b));
}
await engine.close();

// Q8_0 / Q4_0: 34 / 18 bytes per block of 32 (the router, kept in f16, is a rounding error).
const bytesPerWeight = { f32: 4, f16: 2, bf16: 2, q8_0: 34 / 32, q4_0: 18 / 32 }[opts.dtype];
const bytesPerToken = decodeBytesPerToken(c, bytesPerWeight);
const rooflineTps = (bandwidthGBs * 1e9) / bytesPerToken;
const params = paramCounts(c);
const single = decodeTps.get(1);

const lines = [
  `Sirocco bench · ${opts.preset} (${(params.total / 1e9).toFixed(2)} B params, ${(params.active / 1e9).toFixed(2)} B active) · ${opts.dtype} weights in ${opts['weights-in']} · ${isa} · ${threads} threads`,
  `memory read bandwidth      ${bandwidthGBs.toFixed(1)} GB/s (measured now)`,
  `weights read per token     ${(bytesPerToken / 1e6).toFixed(0)} MB → decode roofline ${rooflineTps.toFixed(1)} tok/s`,
  `prefill (${opts.prefill} tokens)       ${prefillTps.toFixed(1)} tok/s`,
  ...[...decodeTps].map(
    ([b, tps]) =>
      `decode batch ${String(b).padEnd(13)} ${tps.toFixed(1)} tok/s` +
      (b === 1 ? `  = ${((100 * tps) / rooflineTps).toFixed(1)}% of roofline` : `  (${(tps / (single ?? tps)).toFixed(2)}× batch 1)`),
  ),
];
// Cold start from S3 (sirocco-default through s3rver, seconds): bench/cold_start.ts for options.
if (!values['skip-cold-start']) {
  log('cold start from S3 (bench/cold_start.ts) …');
  lines.push('', ...(await (await import('./cold_start.ts')).runColdStartBench({})));
}
process.stdout.write(lines.join('\n') + '\n');
