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

export class Engine {
  private queue: Promise<unknown> = Promise.resolve();

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

  info(): NativeEngineInfo {
    return this.native.info();
  }

  step(inputs: StepInput[]): Promise<StepOutput> {
    const run = this.queue.then(() => this.runStep(inputs));
    this.queue = run.catch(() => undefined);
    return run;
  }

  private async runStep(inputs: StepInput[]): Promise<StepOutput> {
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
    const logits = await this.native.step(ids, counts, all, tokens).catch((err: Error) => {
      throw nativeErrorCode(err) === 'KV_EXHAUSTED' ? new KvCacheExhausted(err.message) : err;
    });
    const V = this.config.vocabSize;
    let row = 0;
    return inputs.map((input) =>
      Array.from({ length: input.allLogits ? input.tokens.length : 1 }, () => logits.subarray(V * row, V * ++row)),
    );
  }

  async close(): Promise<void> {
    await this.queue;
    this.native.close();
  }
}
