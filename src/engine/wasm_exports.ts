// The engine module's exports as wasm_engine.ts calls them (native/wasm/build.mjs lists them),
// its memory helpers, and the calls that need an instance of their own, not an engine.
import type { NativeErrorCode } from './native.ts';

export type Exports = {
  memory: WebAssembly.Memory;
  _initialize(): void;
  malloc(n: number): number;
  free(p: number): void;
  engine_last_error(): number;
  engine_cpu_isas(): number;
  engine_kv_block_slots(): number;
  engine_free(e: number): void;
  engine_load_slice(e: number, index: number, data: number, size: bigint): number;
  engine_load_finish(e: number): number;
  engine_seq_create(e: number): number;
  engine_seq_reset(e: number, id: number): number;
  engine_seq_free(e: number, id: number): number;
  engine_seq_truncate(e: number, id: number, n: bigint): number;
  engine_seq_length(e: number, id: number): bigint;
  engine_step_logit_rows(seqs: number, n: number): bigint;
  engine_step(e: number, seqs: number, n: number, tokens: number, logits: number): number;
  engine_logits_scan(logits: number, rows: bigint, vocab: number, out: number): void;
  engine_logits_sample(logits: number, vocab: number, temperature: number, topK: number, topP: number, minP: number, u: number, best: number): number;
  engine_logits_logprobs(logits: number, vocab: number, topN: number, topIds: number, nTop: number): number;
  wasm_engine_create(config: number, rmsEps: number, ropeTheta: number, refs: number, nRefs: number, isa: number, kvDtype: number, kvMaxBlocks: bigint, out: number): number;
  wasm_engine_load_plan(e: number, out: number, cap: number): number;
  wasm_engine_info(e: number, out: number, backend: number): void;
};

export function engineError(message: string, code: NativeErrorCode): Error {
  return Object.assign(new Error(message), { code });
}

// A fresh instance of the module, its C runtime started.
export function instantiate(module: WebAssembly.Module): Exports {
  const x = new WebAssembly.Instance(module, {}).exports as unknown as Exports;
  x._initialize();
  return x;
}

// The kernel tables a module runs, best last ("scalar wasm_simd128").
export function wasmIsas(module: WebAssembly.Module): string[] {
  const x = instantiate(module);
  return cString(x, x.engine_cpu_isas()).split(' ');
}

// engine_logits_scan of logits' whole rows, in an instance of its own (the addon's logitsScan).
export function wasmLogitsScan(module: WebAssembly.Module, logits: Float32Array, vocab: number): Int32Array {
  const x = instantiate(module);
  const rows = Math.floor(logits.length / vocab);
  const at = x.malloc(Math.max(logits.byteLength, 1)), out = x.malloc(Math.max(8 * rows, 1));
  new Float32Array(x.memory.buffer, at, logits.length).set(logits);
  x.engine_logits_scan(at, BigInt(rows), vocab, out);
  return Int32Array.from(new Int32Array(x.memory.buffer, out, 2 * rows));
}

export function put(x: Exports, data: Int32Array | BigInt64Array): number {
  const p = x.malloc(Math.max(data.byteLength, 1));
  if (p === 0) throw engineError('out of memory', 'INTERNAL');
  new Uint8Array(x.memory.buffer, p, data.byteLength).set(new Uint8Array(data.buffer, data.byteOffset, data.byteLength));
  return p;
}

export function putString(x: Exports, s: string): number {
  const bytes = new TextEncoder().encode(s + '\0');
  const p = x.malloc(bytes.length);
  new Uint8Array(x.memory.buffer, p, bytes.length).set(bytes);
  return p;
}

export function cString(x: Exports, p: number): string {
  const mem = new Uint8Array(x.memory.buffer);
  let end = p;
  while (mem[end] !== 0) end++;
  return new TextDecoder().decode(mem.subarray(p, end));
}

export function lastError(x: Exports): string {
  return cString(x, x.engine_last_error());
}
