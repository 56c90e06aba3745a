// The engine compiled to WebAssembly (native/wasm/), behind the same interface as the addon.
// Portable: no Node imports, so an edge worker or a browser can run it from a compiled
// module (wasm_load.ts reads the module and the weights from disk for Node). One instance per
// engine: single-threaded, and a trap (out of memory, a bug) discards only that instance.
import type { ModelConfig } from './config.ts';
import type { LayerTensors, ModelFiles, TensorLocation } from './model_files.ts';
import { yieldToHost } from './yield_to_host.ts';
import { cString, engineError, instantiate, lastError, put, putString, type Exports } from './wasm_exports.ts';
import { DEFAULT_KV_DTYPE, KV_DTYPE_CODE, type AheadDraw, type KvDtype, type NativeEngine, type NativeEngineInfo, type NativeErrorCode, type NativeSlice, type RowLogprobs, type TokenDraw } from './native.ts';

const STATUS: Record<number, NativeErrorCode> = { 1: 'BAD_INPUT', 2: 'KV_EXHAUSTED', 3: 'INTERNAL' };
const DTYPES = ['F32', 'F16', 'BF16', 'Q8_0', 'Q4_0'];

export type WasmEngineOptions = {
  isa?: string; // 'scalar' | 'wasm_simd128' | 'wasm_relaxed_simd' (sirocco-relaxed.wasm); default: the best the module has
  kvDtype?: KvDtype;
  kvMaxBlocks?: number;
};

// A tensor as wasm_api.cpp reads it: file, offset, dtype, rows, cols.
function refInts(t: TensorLocation): bigint[] {
  const dtype = DTYPES.indexOf(t.dtype);
  if (dtype < 0) throw engineError(`${t.name}: the engine cannot read dtype ${t.dtype}`, 'BAD_INPUT');
  const [rows, cols] = t.shape.length === 2 ? [t.shape[0]!, t.shape[1]!] : [1, t.shape[0]!];
  return [t.file, t.offset, dtype, rows, cols].map(BigInt);
}

function layerRefs(l: LayerTensors): TensorLocation[] {
  const attention = [l.attnNorm, l.wq, l.wk, l.wv, l.wo, l.ffnNorm];
  if (!l.experts) return [...attention, l.w1!, l.w2!, l.w3!];
  return [...attention, l.router!, ...l.experts.flatMap((e) => [e.w1, e.w2, e.w3])];
}

function configInts(c: ModelConfig): number[] {
  return [c.vocabSize, c.hiddenSize, c.intermediateSize, c.numLayers, c.numHeads, c.numKvHeads, c.headDim,
    c.numExperts, c.topK, c.slidingWindow ?? 0, c.ropeLayout === 'interleaved' ? 1 : 0];
}

export class WasmEngine implements NativeEngine {
  private broken: string | null = null;

  private constructor(
    private readonly x: Exports,
    private readonly e: number,
    private readonly vocab: number,
  ) {}

  // An empty engine for `model`: hand it every slice of loadPlan(), then finishLoad().
  static create(module: WebAssembly.Module, model: ModelFiles, options: WasmEngineOptions = {}): WasmEngine {
    const x = instantiate(module);
    const c = model.config;
    const t = model.tensors;
    const refs = [t.embed, t.finalNorm, t.lmHead, ...t.layers.flatMap(layerRefs)].flatMap(refInts);
    const config = put(x, new Int32Array(configInts(c)));
    const refsPtr = put(x, new BigInt64Array(refs));
    const isa = putString(x, options.isa ?? '');
    const out = x.malloc(4);
    try {
      const status = x.wasm_engine_create(config, c.rmsEps, c.ropeTheta, refsPtr, refs.length / 5, isa,
        KV_DTYPE_CODE[options.kvDtype ?? DEFAULT_KV_DTYPE], BigInt(options.kvMaxBlocks ?? 0), out);
      if (status !== 0) throw engineError(lastError(x), STATUS[status] ?? 'INTERNAL');
      return new WasmEngine(x, new Int32Array(x.memory.buffer, out, 1)[0]!, c.vocabSize);
    } finally {
      for (const p of [config, refsPtr, isa, out]) x.free(p);
    }
  }

  // Runs a call into the module; a trap leaves the instance unusable, and says so from then on.
  private call<T>(fn: () => T): T {
    if (this.broken) throw engineError(`the WASM engine stopped after an earlier failure (${this.broken}): load the model again`, 'INTERNAL');
    try {
      return fn();
    } catch (err) {
      if (!(err instanceof WebAssembly.RuntimeError)) throw err;
      this.broken = err.message;
      throw engineError(`the WASM engine failed (${err.message}; most likely out of memory): load the model again`, 'INTERNAL');
    }
  }

  private check(status: number): void {
    if (status !== 0) throw engineError(lastError(this.x), STATUS[status] ?? 'INTERNAL');
  }

  loadPlan(): NativeSlice[] {
    return this.call(() => {
      const n = this.x.wasm_engine_load_plan(this.e, 0, 0);
      const p = this.x.malloc(n * 64);
      try {
        this.x.wasm_engine_load_plan(this.e, p, n);
        const v = new BigInt64Array(this.x.memory.buffer, p, n * 8);
        return Array.from({ length: n }, (_, i) => {
          const s = Array.from(v.subarray(i * 8, i * 8 + 8), Number);
          return { shard: s[0]!, file: s[1]!, offset: s[2]!, rows: [s[3]!, s[4]!], cols: [s[5]!, s[6]!], bytes: s[7]! };
        });
      } finally {
        this.x.free(p);
      }
    });
  }

  loadSlice(index: number, bytes: Uint8Array): void {
    this.call(() => {
      const p = this.x.malloc(bytes.length);
      if (p === 0) throw engineError(`out of memory for a ${bytes.length}-byte slice`, 'INTERNAL');
      try {
        new Uint8Array(this.x.memory.buffer, p, bytes.length).set(bytes);
        this.check(this.x.engine_load_slice(this.e, index, p, BigInt(bytes.length)));
      } finally {
        this.x.free(p);
      }
    });
  }

  // Loads the whole plan and finishes: each slice is whole rows of its stored tensor (one shard
  // splits no columns), bytes [start, start + bytes) of its file, which read() returns. The
  // engine is closed if any slice fails.
  async loadAll(read: (file: number, start: number, bytes: number) => Uint8Array | Promise<Uint8Array>): Promise<void> {
    try {
      for (const [index, slice] of this.loadPlan().entries()) {
        const start = slice.offset + slice.rows[0] * (slice.bytes / (slice.rows[1] - slice.rows[0]));
        this.loadSlice(index, await read(slice.file, start, slice.bytes));
      }
      this.finishLoad();
    } catch (err) {
      this.close();
      throw err;
    }
  }

  finishLoad(): void {
    this.call(() => this.check(this.x.engine_load_finish(this.e)));
  }

  createSequence(): number {
    return this.call(() => this.x.engine_seq_create(this.e));
  }

  resetSequence(id: number): boolean {
    return this.call(() => this.x.engine_seq_reset(this.e, id) === 0);
  }

  freeSequence(id: number): boolean {
    return this.call(() => this.x.engine_seq_free(this.e, id) === 0);
  }

  sequenceLength(id: number): number {
    return this.call(() => Number(this.x.engine_seq_length(this.e, id)));
  }

  truncateSequence(id: number, length: number): boolean {
    return this.call(() => this.x.engine_seq_truncate(this.e, id, BigInt(length)) === 0);
  }

  // Runs on the calling thread, after letting the host's pending events run: a loop of steps
  // must not starve I/O.
  async step(
    seqIds: Int32Array,
    counts: Int32Array,
    allLogits: Uint8Array,
    tokens: Int32Array,
    out?: Float32Array,
    scan?: Int32Array,
    _ahead?: boolean | AheadDraw[],
    aheadTokens?: Int32Array,
  ): Promise<Float32Array> {
    await yieldToHost();
    return this.call(() => {
      const n = seqIds.length;
      const seqs = new Int32Array(3 * n);
      for (let i = 0; i < n; i++) seqs.set([seqIds[i]!, counts[i]!, allLogits[i]!], 3 * i);
      const seqsPtr = put(this.x, seqs);
      const tokensPtr = put(this.x, tokens);
      const rows = Number(this.x.engine_step_logit_rows(seqsPtr, n));
      let logits = 0;
      let scanned = 0;
      try {
        // Refused before the step: it changes nothing.
        if (out && out.length < rows * this.vocab)
          throw new TypeError(`step: out must be a Float32Array of at least ${rows * this.vocab} floats (rows ${rows} × vocabulary ${this.vocab})`);
        if (scan && scan.length < 2 * rows)
          throw new TypeError(`step: scan must be an Int32Array of at least ${2 * rows} ints (2 a logits row, rows ${rows})`);
        logits = this.x.malloc(rows * this.vocab * 4);
        if (scan) scanned = this.x.malloc(2 * rows * 4);
        if (logits === 0 || (scan && scanned === 0)) throw engineError('out of memory for the step logits', 'INTERNAL');
        this.check(this.x.engine_step(this.e, seqsPtr, n, tokensPtr, logits));
        if (scan) {
          this.x.engine_logits_scan(logits, BigInt(rows), this.vocab, scanned);
          scan.set(new Int32Array(this.x.memory.buffer, scanned, 2 * rows));
        }
        aheadTokens?.fill(-1, 0, rows); // no step runs ahead here
        const written = new Float32Array(this.x.memory.buffer, logits, rows * this.vocab);
        if (!out) return written.slice();
        out.set(written);
        return out;
      } finally {
        for (const p of [seqsPtr, tokensPtr, logits, scanned]) this.x.free(p);
      }
    });
  }

  // It runs on the calling thread: never a step ahead, nothing to take back.
  readonly runsAhead = false;
  async takeBack(_seqIds?: Int32Array): Promise<void> {}

  drawToken(row: Float32Array, d: TokenDraw): number {
    if (d.best < 0 || d.best >= row.length) throw new RangeError('drawToken: best is not an index of the row');
    return this.call(() => {
      const at = this.x.malloc(Math.max(row.byteLength, 1));
      if (at === 0) throw engineError('out of memory for the logits to sample', 'INTERNAL');
      try {
        new Float32Array(this.x.memory.buffer, at, row.length).set(row);
        return this.x.engine_logits_sample(at, row.length, d.temperature, d.topK, d.topP, d.minP, d.u, d.best);
      } finally {
        this.x.free(at);
      }
    });
  }

  logprobs(row: Float32Array, topN: number): RowLogprobs {
    if (!Number.isInteger(topN) || topN < 0) throw new TypeError('logprobs(row: Float32Array, topN ≥ 0) expected');
    const n = Math.min(topN, row.length);
    return this.call(() => {
      const at = this.x.malloc(Math.max(row.byteLength, 1)), ids = this.x.malloc(4 * n + 4);
      try {
        if (at === 0 || ids === 0) throw engineError('out of memory for the logits of logprobs', 'INTERNAL');
        new Float32Array(this.x.memory.buffer, at, row.length).set(row);
        const lse = this.x.engine_logits_logprobs(at, row.length, n, ids, ids + 4 * n);
        const kept = new Int32Array(this.x.memory.buffer, ids + 4 * n, 1)[0]!;
        return { lse, top: new Int32Array(this.x.memory.buffer, ids, kept).slice() };
      } finally {
        for (const p of [at, ids]) if (p !== 0) this.x.free(p);
      }
    });
  }

  // One at a time: this engine has one thread.
  drawTokens(rows: Float32Array[], draws: TokenDraw[]): Int32Array {
    if (rows.length !== draws.length) throw new TypeError('drawTokens(rows, draws): two arrays of one length expected');
    return Int32Array.from(rows, (row, i) => this.drawToken(row, draws[i]!));
  }

  logprobsRows(rows: Float32Array[], topN: number[]): RowLogprobs[] {
    if (rows.length !== topN.length) throw new TypeError('logprobsRows(rows, topN): two arrays of one length expected');
    return rows.map((row, i) => this.logprobs(row, topN[i]!));
  }

  info(): NativeEngineInfo {
    return this.call(() => {
      const out = this.x.malloc(6 * 8 + 32);
      try {
        this.x.wasm_engine_info(this.e, out, out + 48);
        const v = Array.from(new BigInt64Array(this.x.memory.buffer, out, 6), Number);
        const backend = cString(this.x, out + 48);
        return {
          backend,
          isa: backend.split('/')[1] ?? '',
          tp: v[5]!,
          threadsPerShard: v[4]!,
          kvBlocksInUse: v[1]!,
          kvBlockSlots: v[0]!,
          kvBlockBytes: v[2]!,
          aheadAnswered: 0, // never steps ahead
          aheadTakenBack: 0,
          weightBytesPerShard: [v[3]!],
        };
      } finally {
        this.x.free(out);
      }
    });
  }

  close(): void {
    if (!this.broken) this.x.engine_free(this.e);
    this.broken = 'closed';
  }
}
