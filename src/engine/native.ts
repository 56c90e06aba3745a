// Glue to the C++ addon (build/Release/sirocco.node): its types, and ModelFiles → the spec
// object the addon's Engine constructor reads. No logic beyond conversion.
import { createRequire } from 'node:module';
import type { ModelFiles } from './model_files.ts';

export type NativeEngineInfo = {
  backend: string; // "cpu/avx2": the backend and the kernel table that ran
  isa: string;
  tp: number;
  threadsPerShard: number;
  kvBlocksInUse: number;
  kvBlockSlots: number;
  kvBlockBytes: number; // one block across all shards
  aheadAnswered: number; // step() calls answered from a step run ahead (StepOptions.ahead), so far
  aheadTakenBack: number; // sequence positions of steps run ahead taken back, so far
  weightBytesPerShard: number[];
};

// The engine's status for a failed call, on the thrown Error's `code` (engine_api.h).
export type NativeErrorCode = 'BAD_INPUT' | 'KV_EXHAUSTED' | 'INTERNAL';
export function nativeErrorCode(err: unknown): NativeErrorCode | undefined {
  const code = (err as { code?: unknown } | null)?.code;
  return code === 'BAD_INPUT' || code === 'KV_EXHAUSTED' || code === 'INTERNAL' ? code : undefined;
}

export interface NativeEngine {
  // Whether a caller should ask step() for `ahead`: the engine runs steps on a thread of its own
  // (addon.cpp, RunsAhead).
  readonly runsAhead: boolean;
  createSequence(): number;
  resetSequence(id: number): boolean;
  freeSequence(id: number): boolean;
  sequenceLength(id: number): number;
  truncateSequence(id: number, length: number): boolean;
  // The logits (rows, vocab) in a fresh array, or in out's first rows · vocab floats; with
  // `scan`, its first 2 · rows ints get each row's argmax and first non-finite index
  // (engine_logits_scan in engine_api.h), found by the engine after the step.
  // With `ahead`, the engine then runs the step after it on its own (StepOptions.ahead in
  // engine.ts) if it `runsAhead`; an engine without a thread of its own (WASM) does not,
  // which changes nothing computed. `aheadTokens` (one int a row) gets the token each row fed
  // that step: −1 in every row when none ran ahead.
  step(
    seqIds: Int32Array,
    counts: Int32Array,
    allLogits: Uint8Array,
    tokens: Int32Array,
    out?: Float32Array,
    scan?: Int32Array,
    ahead?: boolean | AheadDraw[],
    aheadTokens?: Int32Array,
  ): Promise<Float32Array>;
  // Settles once these sequences' positions of a step run ahead (every sequence's without
  // seqIds) are taken back.
  takeBack(seqIds?: Int32Array): Promise<void>;
  // A sampled token of row (engine_logits_sample), on the calling thread.
  drawToken(row: Float32Array, draw: TokenDraw): number;
  // drawToken of each row, draws[i] for rows[i], on the calling thread and the engine's own
  // between steps (engine_logits_sample_rows), on the calling thread alone while one runs.
  drawTokens(rows: Float32Array[], draws: TokenDraw[]): Int32Array;
  // A row's log-sum-exp and its topN best indices (engine_logits_logprobs), on the calling thread.
  logprobs(row: Float32Array, topN: number): RowLogprobs;
  // logprobs of each row, topN[i] for rows[i], threaded as drawTokens (engine_logits_logprobs_rows).
  logprobsRows(rows: Float32Array[], topN: number[]): RowLogprobs[];
  // Op timing for benchmarks (engine_op_timing / engine_op_times): the native addon's alone.
  opTiming?(on: boolean): void;
  opTimes?(): OpTime[];
  info(): NativeEngineInfo;
  loadPlan(): NativeSlice[];
  loadSlice(index: number, bytes: Uint8Array): void;
  finishLoad(): void;
  close(): void;
}

// One backend op's totals over the steps since op timing started (engine_op_time): its wall
// time, calls, and the bytes of the matrices it read (matmul, moe, logits; 0 for the others).
export type OpTime = { op: string; seconds: number; calls: number; weightBytes: number };

// A draw of src/node/sampler.ts: temperature > 0; topK 0, topP 1 and minP 0 are off; u uniform
// in [0, 1); best the index of the row's largest logit, which is finite.
export type TokenDraw = { temperature: number; topK: number; topP: number; minP: number; u: number; best: number };

// How the engine takes a sequence's token for the step it runs ahead (StepOptions.ahead in
// engine.ts): temperature 0 its row's argmax, else drawToken's draw with these settings and u.
export type AheadDraw = Omit<TokenDraw, 'best'>;

// What logprobs need of a logits row: log Σ exp, and the best indices, best first (of equal
// logits the lower index first).
export type RowLogprobs = { lse: number; top: Int32Array };

// One slice of a stored tensor that a shard holds (deferred loading, engine_api.h): the
// tensor is the one at (file, offset); rows and cols are half-open ranges of it.
export type NativeSlice = { shard: number; file: number; offset: number; rows: [number, number]; cols: [number, number]; bytes: number };

type NativeSpec = {
  config: Record<string, number | boolean>;
  files: string[];
  tensors: ModelFiles['tensors'];
  threads: number;
  kvMaxBlocks: number;
  weightsIn: WeightsIn;
  isa: string;
  tp: number;
  moeSplit: MoeSplit;
  kvDtype: number; // KV_DTYPE_CODE
  deferred: boolean;
};

type Addon = {
  Engine: new (spec: NativeSpec) => NativeEngine;
  measureBandwidth(bytes: number, threads: number): number;
  logitsScan(logits: Float32Array, vocab: number): Int32Array; // engine_logits_scan of logits' whole rows, 2 ints a row
  measureFmaPeak(isa: string, threads: number): number; // GFLOP/s of f32 FMAs; < 0 if the table is unavailable
  measureInt8Peak(isa: string, threads: number): number; // GOP/s of int8 multiply-adds (2 per product); < 0 likewise
  measureBf16Peak(isa: string, threads: number): number; // GFLOP/s of the table's BF16 tile unit (AMX); 0 if its BF16 runs on FMAs
  isas: string; // "scalar avx2 avx512": the CPU kernel tables this machine runs, best last
  cpuTuning: string; // "intel" | "zen4" | "zen5": whose measurements the x86 tables' per-CPU choices follow
  kvBlockSlots: number;
};

function loadAddon(): Addon {
  try {
    return createRequire(import.meta.url)('../../build/Release/sirocco.node') as Addon;
  } catch (err) {
    throw new Error(
      `the native engine is not built (${(err as Error).message.split('\n')[0]}): run 'npm install' or 'npm run build:native'`,
    );
  }
}

let addon: Addon | null = null;
export function nativeAddon(): Addon {
  addon ??= loadAddon();
  return addon;
}

// 'memory' (the default): read them into anonymous huge-page memory — slower load, faster
// decode where the page cache is slow to stream (the VMs we measured; see bench/README.md),
// and a weight file truncated or rewritten on disk cannot take the process down (a mapping
// would fault with SIGBUS). 'mmap': map the files and use them in place (instant load,
// shared page cache).
export type WeightsIn = 'mmap' | 'memory';
// MoE under tensor parallelism: every expert split by intermediate columns (the default: each
// shard reads 1/tp of every chosen expert, so single-sequence decode is balanced), or whole
// experts per shard (expert parallelism: no split matmuls, but a token's experts may all sit
// on one shard while the others wait).
export type MoeSplit = 'columns' | 'experts';
// K/V storage: f16 by default (half the memory of f32; logits stay within ~4e-4 of the
// float64 reference, inside DESIGN.md's 1e-3), f32 for exact comparisons, or q8_0 (blocks of
// 32 along head_dim as int8 with an f32 scale: 1.125 bytes an element, 56% of f16; needs
// head_dim a multiple of 32) for 1.8× the context in the same memory and less to read at
// long contexts.
export const KV_DTYPES = ['f16', 'f32', 'q8_0'] as const;
export type KvDtype = (typeof KV_DTYPES)[number];
export const DEFAULT_KV_DTYPE: KvDtype = 'f16';
// The engines' engine_kv_dtype (native/engine/engine_api.h).
export const KV_DTYPE_CODE: Record<KvDtype, number> = { f32: 0, f16: 1, q8_0: 2 };

/** Bytes of one cached K or V row of head_dim elements (native/engine/dtype.h: kv_row_bytes). */
export function kvRowBytes(headDim: number, kvDtype: KvDtype): number {
  return kvDtype === 'q8_0' ? headDim + (headDim / 32) * 4 : headDim * (kvDtype === 'f16' ? 2 : 4);
}

// Positions per K/V block: engine_kv_block_slots() of both builds (wasm_engine.test.ts checks),
// known here without loading either.
export const KV_BLOCK_SLOTS = 16;

// Bytes of one K/V cache block (keys and values of every layer for KV_BLOCK_SLOTS positions).
export function kvBlockBytes(c: { numLayers: number; numKvHeads: number; headDim: number }, kvDtype: KvDtype = DEFAULT_KV_DTYPE): number {
  return 2 * c.numLayers * KV_BLOCK_SLOTS * c.numKvHeads * kvRowBytes(c.headDim, kvDtype);
}

// The CPU kernel tables this machine runs, best last.
export function availableIsas(): string[] {
  return nativeAddon().isas.split(' ');
}

// Which CPU's measurements the native x86 tables' per-CPU choices (how far ahead kernels
// fetch, which batched-decode tile) follow: "intel", "zen4" or "zen5".
export function cpuTuning(): string {
  return nativeAddon().cpuTuning;
}

// A kernel table's name as the benches print it: the AVX-512 tables' with their tuning
// ("avx512 (zen4 tuning)"), so that runs on different machines compare knowingly.
export function isaWithTuning(isa: string): string {
  return isa.startsWith('avx512') ? `${isa} (${cpuTuning()} tuning)` : isa;
}

// Where the engine runs: the native addon, or the same C++ built to WebAssembly (one thread,
// one shard; for machines without the native build, and the edge).
export type EngineBackend = 'native' | 'wasm';

export type EngineOptions = {
  backend?: EngineBackend;
  threads?: number;
  kvMaxBlocks?: number;
  weightsIn?: WeightsIn;
  tp?: number; // tensor-parallel shards (default 1)
  moeSplit?: MoeSplit;
  kvDtype?: KvDtype;
  isa?: string; // force a kernel table (wasm: scalar, wasm_simd128); default SIROCCO_ISA, else the best available
};

// deferred: no weight files are opened; the engine waits for the slices of loadPlan().
export function createNativeEngine(model: ModelFiles, options: EngineOptions = {}, deferred = false): NativeEngine {
  const c = model.config;
  const config = {
    vocabSize: c.vocabSize,
    hiddenSize: c.hiddenSize,
    intermediateSize: c.intermediateSize,
    numLayers: c.numLayers,
    numHeads: c.numHeads,
    numKvHeads: c.numKvHeads,
    headDim: c.headDim,
    numExperts: c.numExperts,
    topK: c.topK,
    window: c.slidingWindow ?? 0,
    rmsEps: c.rmsEps,
    ropeTheta: c.ropeTheta,
    ropeInterleaved: c.ropeLayout === 'interleaved',
  };
  return new (nativeAddon().Engine)({
    config,
    files: model.files,
    tensors: model.tensors,
    threads: options.threads ?? 0,
    kvMaxBlocks: options.kvMaxBlocks ?? 0,
    weightsIn: options.weightsIn ?? 'memory',
    isa: options.isa ?? process.env.SIROCCO_ISA ?? '',
    tp: options.tp ?? 1,
    moeSplit: options.moeSplit ?? 'columns',
    kvDtype: KV_DTYPE_CODE[options.kvDtype ?? DEFAULT_KV_DTYPE],
    deferred,
  });
}

