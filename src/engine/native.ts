// Glue to the C++ addon (build/Release/sirocco.node): its types, and ModelFiles → the spec
// object the addon's Engine constructor reads. No logic beyond conversion.
import { createRequire } from 'node:module';
import type { ModelFiles } from './model_files.ts';

export type NativeEngineInfo = { isa: string; threads: number; kvBlocksInUse: number; kvBlockSlots: number };

export interface NativeEngine {
  createSequence(): number;
  resetSequence(id: number): boolean;
  freeSequence(id: number): boolean;
  sequenceLength(id: number): number;
  truncateSequence(id: number, length: number): boolean;
  step(seqIds: Int32Array, counts: Int32Array, allLogits: Uint8Array, tokens: Int32Array): Promise<Float32Array>;
  info(): NativeEngineInfo;
  close(): void;
}

type NativeSpec = {
  config: Record<string, number | boolean>;
  files: string[];
  tensors: ModelFiles['tensors'];
  threads: number;
  kvMaxBlocks: number;
  weightsIn: WeightsIn;
};

type Addon = {
  Engine: new (spec: NativeSpec) => NativeEngine;
  measureBandwidth(bytes: number, threads: number): number;
  isa: string;
  kvBlockSlots: number;
};

const require = createRequire(import.meta.url);

function loadAddon(): Addon {
  try {
    return require('../../build/Release/sirocco.node') as Addon;
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

// 'mmap': map the files and use them in place (instant load, shared page cache).
// 'memory': read them into anonymous huge-page memory (slower load, faster decode where the
// page cache is slow to stream, as on the VMs we measured; see bench/README.md).
export type WeightsIn = 'mmap' | 'memory';
// Bytes of one K/V cache block (f32 keys and values of every layer for kvBlockSlots positions).
export function kvBlockBytes(c: { numLayers: number; numKvHeads: number; headDim: number }): number {
  return 2 * c.numLayers * nativeAddon().kvBlockSlots * c.numKvHeads * c.headDim * 4;
}

export type EngineOptions = { threads?: number; kvMaxBlocks?: number; weightsIn?: WeightsIn };

export function createNativeEngine(model: ModelFiles, options: EngineOptions = {}): NativeEngine {
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
    weightsIn: options.weightsIn ?? 'mmap',
  });
}

