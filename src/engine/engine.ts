// The engine as TypeScript sees it: load a model directory, manage sequences, and advance
// a batch with step(). Steps are queued and run one at a time, off the JS thread.
import type { ModelConfig } from './config.ts';
import { loadModelFiles, type ModelFiles } from './model_files.ts';
import {
  createNativeEngine,
  nativeErrorCode,
  type EngineOptions,
  type NativeEngine,
  type NativeEngineInfo,
  type NativeSlice,
  type OpTime,
  type RowLogprobs,
  type TokenDraw,
  type AheadDraw,
} from './native.ts';
import { ModelLoadError } from './errors.ts';
import type { WasmEngineOptions } from './wasm_engine.ts';
import { loadWasmEngine } from './wasm_load.ts';

// The WASM engine runs one shard on one thread: asking for more is refused, not ignored.
function wasmOptions(options: EngineOptions): WasmEngineOptions {
  if ((options.tp ?? 1) > 1) throw new ModelLoadError('--backend wasm runs one shard: drop --tp');
  return { isa: options.isa, kvDtype: options.kvDtype, kvMaxBlocks: options.kvMaxBlocks };
}

export type StepInput = {
  sequence: number;
  tokens: ArrayLike<number>; // a prefill chunk, or one token to decode
  allLogits?: boolean; // logits after every token of the chunk, else after the last only
};

// The K/V pool has no block left for a step: free or reset sequences, then retry.
export class KvCacheExhausted extends Error {
  override name = 'KvCacheExhausted';
}

// Per input, its logits rows (views into one buffer): tokens.length rows if allLogits, else 1.
export type StepOutput = Float32Array[][];
const logitRows = (input: StepInput) => (input.allLogits ? input.tokens.length : 1);

// What a sampler first asks of a logits row: the index of its largest logit (ties to the
// lowest: greedy's token; as a `>` scan from index 0, so never a NaN) and of its first NaN or
// ±Inf (-1 if none). stepScanned has the engine find both in native code after the step
// (engine_logits_scan): in JavaScript each takes ~45 µs a 32,000-logit row, on the thread
// that plans the next step.
// fedAhead: the token the engine fed this row's sequence in the step it runs after this one
// (StepOptions.ahead: the argmax, or its AheadDraw's sample, as the caller would take), −1 when
// none runs ahead — a caller takes it instead of drawing the same token again.
export type RowScan = { argmax: number; firstNonFinite: number; fedAhead: number };
// The step's rows as step() gives them, and each one's scan in the same places.
export type ScannedStepOutput = { rows: StepOutput; scans: RowScan[][] };

export type StepOptions = {
  // The rows are views of a buffer this engine keeps, which the next step with reuseLogits
  // overwrites: for a caller done with a step's logits before it asks for the next (the
  // node's batch runner, the benches). A fresh buffer each step is memory the process has
  // not touched, whose 4 KiB pages fault as the engine writes them, ~6 µs each on a 2-vCPU
  // VM: 0.2 ms of a batch-1 step of mistral-mini (128 KB of logits), 3 ms of a batch-16 one.
  reuseLogits?: boolean;
  // The next step, run by the engine as soon as this one ends, while the caller reads this
  // one's rows: the same sequences (each must get one logits row), each fed the token the
  // caller will take from its row — its argmax (true), or as AheadDraw[] says (one an input).
  // A step() of some of them, each fed that token, takes their rows without the engine
  // waiting for this thread between the two steps: 0.3–0.46 ms a step from Node (thread
  // wake-ups, the Promise, the caller's JavaScript) leave a step's path. The others' positions
  // are taken back (each sequence back to its length) before anything else touches them:
  // by step() on the engine's thread, by a synchronous call on a sequence after waiting for
  // the step here (the rest of one step at most), by takeBack() without blocking this thread.
  // Nothing computed changes: a row depends on its sequence alone.
  ahead?: boolean | AheadDraw[];
};

export type { AheadDraw };
// The AheadDraw of greedy decoding: the row's argmax.
export const GREEDY: AheadDraw = { temperature: 0, topK: 0, topP: 1, minP: 0, u: 0 };

export class Engine {
  private queue: Promise<unknown> = Promise.resolve();
  private reusedLogits = new Float32Array(0); // StepOptions.reuseLogits

  private constructor(
    private readonly native: NativeEngine,
    readonly config: ModelConfig,
  ) {}

  // An engine over a core made elsewhere (an edge worker's WasmEngine).
  static wrap(core: NativeEngine, config: ModelConfig): Engine {
    return new Engine(core, config);
  }

  static async load(dir: string, options: EngineOptions = {}): Promise<Engine> {
    const model = await loadModelFiles(dir);
    if (options.backend === 'wasm') return new Engine(await loadWasmEngine(model, wasmOptions(options)), model.config);
    return new Engine(createNativeEngine(model, options), model.config);
  }

  // An engine whose shards start empty: hand every slice of loadPlan() to loadSlice() (in any
  // order, as each arrives), then finishLoad(). model's files are not opened.
  static deferred(model: ModelFiles, options: EngineOptions = {}): Engine {
    if (options.backend === 'wasm') throw new Error('a deferred load runs on the native backend only');
    return new Engine(createNativeEngine(model, options, true), model.config);
  }

  loadPlan(): NativeSlice[] {
    return this.native.loadPlan();
  }

  loadSlice(index: number, bytes: Uint8Array): void {
    this.native.loadSlice(index, bytes);
  }

  finishLoad(): void {
    this.native.finishLoad();
  }

  createSequence(): number {
    return this.native.createSequence();
  }

  resetSequence(id: number): void {
    if (!this.native.resetSequence(id)) throw new Error(`sequence ${id} does not exist`);
  }

  freeSequence(id: number): void {
    if (!this.native.freeSequence(id)) throw new Error(`sequence ${id} does not exist`);
  }

  // Positions already in the sequence's cache.
  sequenceLength(id: number): number {
    return this.native.sequenceLength(id);
  }

  // Keeps the first `length` cached positions and forgets the rest. Returns false when the
  // cache cannot do that (a sliding-window ring shorter than its history): reset instead.
  truncateSequence(id: number, length: number): boolean {
    return this.native.truncateSequence(id, length);
  }

  // Whether to ask for StepOptions.ahead: the native engine (its step thread runs the step
  // ahead, whatever its threads); the WASM engine ignores it.
  get runsAhead(): boolean {
    return this.native.runsAhead;
  }

  info(): NativeEngineInfo {
    return this.native.info();
  }

  // A sampled token of a logits row, drawn in native code (engine_logits_sample: the node's
  // sampler, src/node/sampler.ts, in C++), on this thread. Safe during a step.
  drawToken(row: Float32Array, draw: TokenDraw): number {
    return this.native.drawToken(row, draw);
  }

  // drawToken of each row (draws[i] for rows[i]), the same tokens, on this thread and the
  // engine's threads, which are idle between steps: a batch's sampled tokens in about half the
  // time on two. During a step, on this thread alone.
  drawTokens(rows: Float32Array[], draws: TokenDraw[]): Int32Array {
    return this.native.drawTokens(rows, draws);
  }

  // A row's log Σ exp and its topN best indices, for logprobs (engine_logits_logprobs), on
  // this thread. Safe during a step.
  logprobs(row: Float32Array, topN: number): RowLogprobs {
    return this.native.logprobs(row, topN);
  }

  // logprobs of each row (topN[i] for rows[i]), on this thread and the engine's, as drawTokens.
  logprobsRows(rows: Float32Array[], topN: number[]): RowLogprobs[] {
    return this.native.logprobsRows(rows, topN);
  }

  // Times every backend op of the steps that follow, on every shard, from zero, until turned
  // off (engine_op_timing): for benchmarks, between steps; the native engine's alone. Nothing
  // computed changes.
  setOpTiming(on: boolean): void {
    if (!this.native.opTiming) throw new Error('op timing needs the native engine');
    this.native.opTiming(on);
  }

  // Shard 0's totals per op since op timing started; [] while it is off.
  opTimes(): OpTime[] {
    return this.native.opTimes ? this.native.opTimes() : [];
  }

  step(inputs: StepInput[], options: StepOptions = {}): Promise<StepOutput> {
    return this.enqueue(() => this.runStep(inputs, options));
  }

  // step(), with each row's RowScan.
  stepScanned(inputs: StepInput[], options: StepOptions = {}): Promise<ScannedStepOutput> {
    return this.enqueue(async () => {
      const n = inputs.reduce((n, input) => n + logitRows(input), 0);
      const scan = new Int32Array(2 * n);
      const fed = options.ahead ? new Int32Array(n) : undefined;
      const rows = await this.runStep(inputs, options, scan, fed);
      let at = 0;
      const scanOf = (i: number): RowScan => ({ argmax: scan[2 * i]!, firstNonFinite: scan[2 * i + 1]!, fedAhead: fed ? fed[i]! : -1 });
      const scans = rows.map((r) => r.map(() => scanOf(at++)));
      return { rows, scans };
    });
  }

  // Settles once these sequences' positions of a step run ahead (StepOptions.ahead; every
  // sequence's if none given) are taken back: before freeing, resetting or truncating them
  // without waiting on this thread.
  takeBack(sequences?: number[]): Promise<void> {
    return this.enqueue(() => this.native.takeBack(sequences && Int32Array.from(sequences)));
  }

  private enqueue<T>(work: () => Promise<T>): Promise<T> {
    const run = this.queue.then(work);
    this.queue = run.catch(() => undefined);
    return run;
  }

  private async runStep(inputs: StepInput[], options: StepOptions, scan?: Int32Array, fedAhead?: Int32Array): Promise<StepOutput> {
    const n = inputs.length;
    const ids = new Int32Array(n);
    const counts = new Int32Array(n);
    const all = new Uint8Array(n);
    let total = 0;
    inputs.forEach((input, i) => {
      ids[i] = input.sequence;
      counts[i] = input.tokens.length;
      all[i] = input.allLogits ? 1 : 0;
      total += input.tokens.length;
    });
    const tokens = new Int32Array(total);
    let at = 0;
    for (const input of inputs) {
      tokens.set(input.tokens, at);
      at += input.tokens.length;
    }
    const V = this.config.vocabSize;
    const out = options.reuseLogits ? this.logitsFor(inputs, V) : undefined;
    const logits = await this.native.step(ids, counts, all, tokens, out, scan, options.ahead, fedAhead).catch((err: Error) => {
      throw nativeErrorCode(err) === 'KV_EXHAUSTED' ? new KvCacheExhausted(err.message) : err;
    });
    let row = 0;
    return inputs.map((input) =>
      Array.from({ length: logitRows(input) }, () => logits.subarray(V * row, V * ++row)),
    );
  }

  // The kept buffer, grown to the step's rows when short (or replaced if a caller detached it).
  private logitsFor(inputs: StepInput[], V: number): Float32Array {
    const rows = inputs.reduce((n, input) => n + logitRows(input), 0);
    if (this.reusedLogits.length < rows * V || this.reusedLogits.buffer.byteLength === 0)
      this.reusedLogits = new Float32Array(rows * V);
    return this.reusedLogits;
  }

  async close(): Promise<void> {
    await this.queue;
    this.native.close();
  }
}
