// `npm run bench`: prefill and decode tokens/s on a benchmark-shaped model (DESIGN.md §4),
// for each --tp side by side, with the memory bandwidth and the FMA and int8 peaks measured in
// the same run: decode as a share of the bandwidth roofline, prefill as a share of the peak of
// the kernels it runs on (FMA for float weights, int8 for Q8_0 / Q4_0).
// Options: USAGE below (`npm run bench -- --help`).
// Native columns also run batch-1 decode in 8 short runs, each right after a bandwidth probe,
// and print the median of those pairs' shares of the roofline ("beside probes"): on a shared VM
// the bandwidth moves within a minute, and a pair measured seconds apart holds still.
// --backend wasm: the WASM engine beside the native one (AVX2 and the best table this CPU runs)
// at one thread, each column with its ratio to native AVX2: wasm_simd128 in Node, and in
// Chromium (browser_wasm.ts) wasm_simd128 and wasm_relaxed_simd — relaxed SIMD, which Node 20
// lacks (Node 22 has it: then it runs in Node too).
// Cold start: bench/cold_start.ts.
import { existsSync } from 'node:fs';
import { cpus } from 'node:os';
import { z } from 'zod';
import { Engine } from '../src/engine/engine.ts';
import { availableIsas, cpuTuning, DEFAULT_KV_DTYPE, isaWithTuning, KV_DTYPES, nativeAddon } from '../src/engine/native.ts';
import { hostWasmModule, wasmModuleBuilt } from '../src/engine/wasm_load.ts';
import { ensureBenchModel } from './bench_models.ts';
import { BrowserWasm, CHROMIUM } from './browser_wasm.ts';
import { runJson, type Column, type Run, type Yardsticks } from './bench_run.ts';
import { greedyAhead, measureDecodeBesideBandwidth, measureEngine, median, SHORT_CONTEXT } from './engine_timings.ts';
import { measureDecodeOps } from './decode_ops.ts';
import { measurePeaks } from './peaks.ts';
import { scriptArgs } from './script_args.ts';
import { decodeBytesPerToken, kvBytesPerToken, paramCounts } from './roofline.ts';

const list = (fallback: string) =>
  z
    .string()
    .default(fallback)
    .transform((s) => s.split(',').map(Number))
    .refine((a) => a.every((n) => Number.isInteger(n) && n > 0), 'expected positive integers, e.g. 1,2');
const Options = z.object({
  preset: z.enum(['mixtral-mini', 'mistral-mini']).default('mixtral-mini'),
  dtype: z.enum(['f16', 'bf16', 'f32', 'q8_0', 'q4_0']).default('f16'),
  threads: z.coerce.number().int().nonnegative().default(0),
  prefill: z.coerce.number().int().positive().default(256),
  decode: z.coerce.number().int().positive().default(32),
  'weights-in': z.enum(['memory', 'mmap']).default('memory'),
  batch: list('1,4,16'),
  tp: list('1,2'),
  'moe-split': z.enum(['columns', 'experts']).default('columns'),
  context: z.coerce.number().int().positive().optional(),
  'kv-dtype': z.enum(KV_DTYPES).default(DEFAULT_KV_DTYPE),
  backend: z.enum(['native', 'wasm']).default('native'),
  json: z.boolean().default(false),
  'skip-cold-start': z.boolean().default(false),
  ahead: z.enum(['auto', 'on', 'off']).default('auto'),
});

const USAGE = `usage: npm run bench -- [--preset mixtral-mini|mistral-mini] [--dtype f16|bf16|f32|q8_0|q4_0] [--threads N]
                     [--prefill 256] [--decode 32] [--batch 1,4,16] [--tp 1,2] [--moe-split columns|experts]
                     [--weights-in memory|mmap] [--context N] [--kv-dtype f16|f32|q8_0] [--backend native|wasm]
                     [--json] [--skip-cold-start] [--ahead auto|on|off]
Prefill and decode tokens/s of a benchmark-shaped model (generated into .bench/models on first use), with the
memory bandwidth and the FMA and int8 peaks measured in the same run: decode as a share of the bandwidth
roofline, prefill as a share of the peak of the kernels it runs on. SIROCCO_ISA=avx2 picks the kernel table.
  --context N   batch-1 decode after an N-token prompt too, against decode after a short one
  --kv-dtype D  the K/V cache's storage (default f16; q8_0 reads 56% of its bytes at long context)
  --backend wasm  the WASM engine beside the native one, in Node and in Chromium, at one thread
  --json        the table to stderr, every figure with its settings to stdout as one JSON document
  --ahead A     decode steps run ahead (the engine going on to the next greedy step while this one is read):
                auto (default) as the node runs them (the native engine: on), on, off
Native engines also time a few batch-1 decode steps op by op: the share of a step spent reading matrices
(matmul, MoE, lm_head) and their GB/s against the probe; attention, the other ops, and the gaps between ops.`;
const text = { type: 'string' } as const;
const opts = scriptArgs(
  USAGE,
  {
    preset: text, dtype: text, threads: text, prefill: text, decode: text, batch: text, tp: text, 'moe-split': text,
    'skip-cold-start': { type: 'boolean' }, 'weights-in': text, context: text, 'kv-dtype': text, backend: text, json: { type: 'boolean' }, ahead: text,
  },
  Options,
);
// A progress line (a TTY's, redrawn in place) ends before the next log line.
let progressShown = false;
const log = (s: string) => {
  process.stderr.write((progressShown ? '\n' : '') + s + '\n');
  progressShown = false;
};
const progress = (line: string) => {
  if (!process.stderr.isTTY) return;
  process.stderr.write(`\r${line}`);
  progressShown = true;
};
// The WASM engine has one thread: it is compared with the native one on one thread too.
const threads = opts.backend === 'wasm' ? 1 : opts.threads || cpus().length;

const nativeIsas = availableIsas();
function wasmColumns(): Column[] {
  const columns: Column[] = [{ tp: 1, backend: 'wasm', isa: 'wasm_simd128' }];
  if (hostWasmModule() === 'sirocco-relaxed.wasm') columns.push({ tp: 1, backend: 'wasm', isa: 'wasm_relaxed_simd' });
  if (!existsSync(CHROMIUM)) log(`(no Chromium at ${CHROMIUM}: apt-get install -y chromium, for the columns of the WASM engine in a browser)`);
  else {
    columns.push({ tp: 1, backend: 'wasm', isa: 'wasm_simd128', host: 'chromium' });
    if (wasmModuleBuilt('sirocco-relaxed.wasm')) columns.push({ tp: 1, backend: 'wasm', isa: 'wasm_relaxed_simd', host: 'chromium' });
    else log('(build/wasm/sirocco-relaxed.wasm is not built — it needs clang 16 or later: npm run build:wasm says which packages)');
  }
  return columns;
}
const columns: Column[] =
  opts.backend === 'wasm'
    ? [
        ...[...new Set(['avx2', nativeIsas.at(-1)!])].filter((isa) => nativeIsas.includes(isa)).map((isa): Column => ({ tp: 1, backend: 'native', isa })),
        ...wasmColumns(),
      ]
    : opts.tp.map((tp) => ({ tp, backend: 'native' }));

const dir = await ensureBenchModel(opts.preset, opts.dtype, log);

const probeBandwidth = () => nativeAddon().measureBandwidth(1 << 30, threads); // GB/s, 1 GiB on every thread
const PAIR_ROUNDS = 8;
const PAIR_STEPS = 8;
const OP_STEPS = 16;

const timingOptions = { prefill: opts.prefill, decode: opts.decode, batch: opts.batch, context: opts.context, ahead: opts.ahead === 'auto' ? undefined : opts.ahead === 'on' };

// config: the model's, from the engines in Node (the first column always runs there).
async function measure(column: Column): Promise<{ run: Run; config?: Engine['config'] }> {
  const { tp, backend } = column;
  log(`loading ${dir} (${backend} engine${column.isa ? ` on ${column.isa}` : ''}${column.host ? ` in ${column.host}` : ''}, weights in ${opts['weights-in']}, --tp ${tp}) …`);
  if (column.host === 'chromium') {
    const browser = await BrowserWasm.launch();
    try {
      const wasm = column.isa === 'wasm_relaxed_simd' ? 'sirocco-relaxed.wasm' : 'sirocco.wasm';
      const info = await browser.load(dir, wasm, { isa: column.isa, kvDtype: opts['kv-dtype'] });
      log(`  prefill, decode${opts.context === undefined ? '' : ' and long-context decode'} in the page …`);
      const t = await browser.measure(timingOptions);
      return { run: { ...column, isa: info.isa, threadsPerShard: 1, stepsAhead: false, prefill: t.prefill, decode: new Map(t.decode), contextDecode: t.contextDecode, pairs: [], ops: null, shardBytes: info.weightBytesPerShard } };
    } finally {
      await browser.close();
    }
  }
  const engine = await Engine.load(dir, { backend, isa: column.isa, threads, weightsIn: opts['weights-in'], tp, moeSplit: opts['moe-split'], kvDtype: opts['kv-dtype'] });
  try {
    const info = engine.info();
    const t = await measureEngine(engine, timingOptions, log, progress);
    const native = backend === 'native';
    const pairs = native ? (log(`  decode beside the bandwidth: ${PAIR_ROUNDS} × (probe, ${PAIR_STEPS} steps) …`), await measureDecodeBesideBandwidth(engine, probeBandwidth, PAIR_ROUNDS, PAIR_STEPS, timingOptions.ahead)) : [];
    const ops = native ? (log(`  decode op by op: ${OP_STEPS} steps …`), await measureDecodeOps(engine, OP_STEPS, probeBandwidth)) : null;
    return {
      run: { ...column, isa: info.isa, threadsPerShard: info.threadsPerShard, stepsAhead: greedyAhead(engine, timingOptions.ahead).ahead === true, prefill: t.prefill, decode: new Map(t.decode), contextDecode: t.contextDecode, pairs, ops, shardBytes: info.weightBytesPerShard },
      config: engine.config,
    };
  } finally {
    await engine.close();
  }
}

// The bandwidth before the engines run and again after (below), the roofline from the better:
// on a shared VM a neighbour can take a third of it for seconds, and the roofline is what the
// memory gives, not what a busy moment left.
log('measuring memory read bandwidth …');
const bandwidthBefore = probeBandwidth();
const runs: Run[] = [];
let config: Engine['config'] | undefined;
for (const column of columns) {
  const m = await measure(column);
  config ??= m.config;
  runs.push(m.run);
}
const c = config!;
const isa = runs[0]!.isa; // the peaks are the first column's table's (a native one)
log('measuring memory read bandwidth and the FMA and int8 peaks …');
const bandwidthSamples = [bandwidthBefore, probeBandwidth()];
const bandwidthGBs = Math.max(...bandwidthSamples);
const { fmaGflops: peakGflops, int8Gops: int8PeakGops, bf16Gflops: bf16PeakGflops, prefill: prefillPeak } = measurePeaks(isa, threads, opts.dtype);

// Q8_0 / Q4_0: 34 / 18 bytes per block of 32 (the router, kept in f16, is a rounding error).
const bytesPerWeight = { f32: 4, f16: 2, bf16: 2, q8_0: 34 / 32, q4_0: 18 / 32 }[opts.dtype];
const bytesPerToken = decodeBytesPerToken(c, bytesPerWeight);
const rooflineTps = (bandwidthGBs * 1e9) / bytesPerToken;
// After a long prompt the step reads the cached keys and values too.
const contextKvBytes = opts.context === undefined ? 0 : kvBytesPerToken(c, opts.context, opts['kv-dtype']);
const contextRooflineTps = (bandwidthGBs * 1e9) / (bytesPerToken + contextKvBytes);
const params = paramCounts(c);
// Prefill: 2 operations per active weight per token (attention over 256 positions adds < 1%),
// against the peak of the kernels it runs on (bench/peaks.ts).
const prefillShare = (tps: number) => (100 * tps * 2 * params.active) / (prefillPeak.gops * 1e9);
// --backend wasm: each column against native AVX2 (the issue's yardstick), else the first.
const baseline = runs.find((r) => r.backend === 'native' && r.isa === 'avx2') ?? runs[0]!;
const vsBaseline = (r: Run, f: (r: Run) => number) => (opts.backend === 'wasm' ? ` (${(f(r) / f(baseline)).toFixed(2)}× native ${baseline.isa})` : '');
// The peaks were measured for the baseline's table: the other columns of a --backend wasm
// table show their ratio to it instead.
const comparedOnly = (r: Run) => opts.backend === 'wasm' && r !== baseline;

// Each pair's decode against the roofline of the bandwidth probed just before it.
const pairShare = (p: Run['pairs'][number]) => (p.tokS * bytesPerToken) / (p.gbS * 1e9);
const pairShares = (r: Run) => r.pairs.map(pairShare);

const cell = (s: string) => s.padEnd(34);
const row = (label: string, f: (r: Run) => string) => label.padEnd(24) + runs.map((r) => cell(f(r))).join('');
const mb = (b: number) => `${(b / 1e6).toFixed(0)} MB`;
const threadCount = (n: number) => `${n} thread${n === 1 ? '' : 's'}`;
const pct = (share: number) => `${(100 * share).toFixed(1)}%`;
const lines = [
  `Sirocco bench · ${opts.preset} (${(params.total / 1e9).toFixed(2)} B params, ${(params.active / 1e9).toFixed(2)} B active) · ${opts.dtype} weights in ${opts['weights-in']} · ${isaWithTuning(isa)} kernels · ${threadCount(threads)} · ${opts['kv-dtype']} K/V` +
    (c.numExperts > 0 ? ` · --moe-split ${opts['moe-split']}` : ''),
  `memory read bandwidth   ${bandwidthGBs.toFixed(1)} GB/s (best of ${bandwidthSamples.map((b) => b.toFixed(1)).join(' before, ')} after); weights read per token ${mb(bytesPerToken)} → decode roofline ${rooflineTps.toFixed(1)} tok/s`,
  `FMA peak (${isa})${' '.repeat(Math.max(1, 13 - isa.length))}${peakGflops.toFixed(0)} GFLOP/s on ${threadCount(threads)} (measured now)`,
  `int8 peak (${isa})${' '.repeat(Math.max(1, 12 - isa.length))}${int8PeakGops.toFixed(0)} GOP/s (the ceiling of Q8_0 / Q4_0 prefill)`,
  ...(bf16PeakGflops === null ? [] : [`AMX BF16 peak           ${bf16PeakGflops.toFixed(0)} GFLOP/s (the ceiling of this table's BF16 prefill)`]),
  '',
  opts.backend === 'wasm'
    ? row('', (r) => `${r.backend} ${r.isa} (${r.host ?? '1 thread'})`)
    : row('', (r) => `--tp ${r.tp} (${threadCount(r.threadsPerShard)} per shard${r.stepsAhead ? ', steps run ahead' : ''})`),
  row(`prefill (${opts.prefill} tokens)`, (r) =>
    comparedOnly(r) ? `${r.prefill.toFixed(1)} tok/s${vsBaseline(r, (x) => x.prefill)}` : `${r.prefill.toFixed(1)} tok/s = ${prefillShare(r.prefill).toFixed(1)}% of ${prefillPeak.kind} peak`,
  ),
  ...opts.batch.map((b) =>
    row(`decode batch ${b}`, (r) => {
      const tps = r.decode.get(b)!;
      if (comparedOnly(r)) return `${tps.toFixed(1)} tok/s${vsBaseline(r, (x) => x.decode.get(b)!)}`;
      return `${tps.toFixed(1)} tok/s ` + (b === 1 ? `= ${((100 * tps) / rooflineTps).toFixed(1)}% of roofline` : `(${(tps / r.decode.get(opts.batch[0]!)!).toFixed(2)}× batch ${opts.batch[0]})`);
    }),
  ),
  ...(runs.some((r) => r.pairs.length > 0)
    ? [
        row('decode b1 beside probes', (r) => {
          if (r.pairs.length === 0) return '';
          const shares = pairShares(r);
          return `${(100 * median(shares)).toFixed(1)}% median (${shares.length} pairs: ${(100 * Math.min(...shares)).toFixed(0)}–${(100 * Math.max(...shares)).toFixed(0)}%)`;
        }),
      ]
    : []),
  ...(runs.some((r) => r.ops)
    ? [
        // bench/decode_ops.ts: the matrices' share of a step, GB/s (% of a probe just before); the rest.
        row('b1 step: matrix reads', (r) => (r.ops ? `${pct(r.ops.matrixShare)} at ${r.ops.matrixGBs.toFixed(1)} GB/s (${pct(r.ops.matrixGBs / r.ops.probeGBs)})${r.tp > 1 ? ' shard 0' : ''}` : '')),
        row('b1 step: the rest', (r) => (r.ops ? `attn ${pct(r.ops.attentionShare)} · ops ${pct(r.ops.otherOpsShare)} · gaps ${pct(r.ops.betweenShare)}` : '')),
      ]
    : []),
  ...(opts.context === undefined
    ? []
    : [
        row(`decode at ${opts.context} context`, (r) => `${r.contextDecode!.tokS.toFixed(1)} tok/s = ${((100 * r.contextDecode!.tokS) / contextRooflineTps).toFixed(1)}% of roofline`),
        row('', (r) => `(${r.contextDecode!.ratioToShort.toFixed(2)}× at ${SHORT_CONTEXT}; + ${mb(contextKvBytes)} K/V)`),
      ]),
  row('weights per shard', (r) => r.shardBytes.map(mb).join(' + ')),
];
// Cold start from S3 (sirocco-default through s3rver, seconds): bench/cold_start.ts for options.
if (!opts['skip-cold-start']) {
  log('cold start from S3 (bench/cold_start.ts) …');
  lines.push('', ...(await (await import('./cold_start.ts')).runColdStartBench({})));
}
(opts.json ? process.stderr : process.stdout).write(lines.join('\n') + '\n');
if (opts.json) {
  const yardsticks: Yardsticks = {
    batches: opts.batch,
    context: opts.context,
    rooflineTps,
    contextKvBytes,
    contextRooflineTps,
    prefillPeak,
    prefillShare,
    pairShare,
    pairSteps: PAIR_STEPS,
    vsNative: opts.backend === 'wasm' ? baseline : null,
  };
  const report = {
    settings: { preset: opts.preset, dtype: opts.dtype, backend: opts.backend, threads, weights_in: opts['weights-in'], prefill_tokens: opts.prefill, decode_steps: opts.decode, batches: opts.batch, context: opts.context ?? null, kv_dtype: opts['kv-dtype'], moe_split: c.numExperts > 0 ? opts['moe-split'] : null },
    machine: { cpu: cpus()[0]?.model.trim() ?? null, cpu_tuning: cpuTuning(), cpus: cpus().length, node: process.version, isa, bandwidth_gb_s: bandwidthGBs, bandwidth_gb_s_before_after: bandwidthSamples, fma_peak_gflop_s: peakGflops, int8_peak_gop_s: int8PeakGops, bf16_peak_gflop_s: bf16PeakGflops },
    model: { params_total: params.total, params_active: params.active, weight_bytes_per_token: bytesPerToken, decode_roofline_tok_s: rooflineTps },
    runs: runs.map((r) => runJson(r, yardsticks)),
  };
  process.stdout.write(JSON.stringify(report, null, 2) + '\n');
}
