// An inference node's moving parts, wired once: engine, tokenizer, warm sessions and the
// batch runner, plus draining and metrics. Readiness lives in the host (node_host.ts, or the
// edge worker); the HTTP layer (node_app.ts) only translates requests into submit() calls.
// Portable: loading a model from disk, S3 or the Hub is node_service_load.ts's.
import type { Meter } from '@opentelemetry/api';
import type { Engine } from '../engine/engine.ts';
import { selfTest } from '../engine/finite_logits.ts';
import type { EngineBackend, KvDtype, MoeSplit, WeightsIn } from '../engine/native.ts';
import type { ModelInfo } from '../protocol/internal_api.ts';
import { Tokenizer } from '../tokenizer/tokenizer.ts';
import type { FetchStats } from '../weights/fetch_model.ts';
import { BatchRunner } from './batch_runner.ts';
import { ConstrainedDecoding, type TokenMatcher } from './grammar/index.ts';
import type { GenerationRequest } from './generation.ts';
import { SessionStore } from './session_store.ts';

export type NodeServiceOptions = {
  modelDir: string;
  modelId?: string;
  backend?: EngineBackend;
  threads?: number;
  weightsIn?: WeightsIn;
  tp?: number; // tensor-parallel shards
  moeSplit?: MoeSplit;
  kvDtype?: KvDtype;
  maxBatchTokens: number; // tokens per engine step (chunked prefill budget)
  maxSequences: number; // requests decoded together
  maxWarmSessions: number;
  kvCacheBytes: number; // K/V memory for running and warm sequences together
  weightsStats: FetchStats; // live download counters, reported by NodeHost while start() runs
  metrics: { meter: Meter }; // where the node's instruments go (NodeHost's, so they exist while loading)
};

// What a service needs beside its engine (NodeServiceOptions once the model is loaded).
export type ServiceOptions = Pick<NodeServiceOptions, 'maxBatchTokens' | 'maxSequences' | 'maxWarmSessions' | 'metrics'> & {
  modelId: string;
  kvMaxBlocks: number; // the engine's K/V pool, in blocks
};

export type TokenizerFiles = { tokenizer: unknown; config: unknown | null };

export const DEFAULT_NODE_OPTIONS = {
  maxBatchTokens: 256,
  maxSequences: 16,
  maxWarmSessions: 64,
  kvCacheBytes: 1 << 30,
} as const;

// Idle warm sessions are evicted once the pool passes this share of its hard limit, so
// running requests keep room to grow.
const WARM_SHARE = 0.75;

export class NodeService {
  private constructor(
    readonly engine: Engine,
    readonly tokenizer: Tokenizer,
    readonly sessions: SessionStore,
    readonly runner: BatchRunner,
    readonly info: ModelInfo,
    readonly metrics: { meter: Meter },
    kvMaxBlocks: number,
  ) {
    const m = this.metrics.meter;
    const queue = m.createHistogram('sirocco_node_queue_seconds', {
      description: 'Time a request waited before the runner admitted it',
      unit: 's',
      advice: { explicitBucketBoundaries: [0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5, 30] },
    });
    runner.onAdmitted = (seconds) => queue.record(seconds);
    m.createObservableGauge('sirocco_node_kv_cache_usage_ratio', { description: 'K/V cache blocks in use, as a share of the pool' }).addCallback((o) =>
      o.observe(engine.info().kvBlocksInUse / Math.max(1, kvMaxBlocks)),
    );
    m.createObservableGauge('sirocco_node_running_requests').addCallback((o) => o.observe(runner.stats().running));
    m.createObservableGauge('sirocco_node_waiting_requests').addCallback((o) => o.observe(runner.stats().waiting));
    m.createObservableGauge('sirocco_node_warm_sessions').addCallback((o) => o.observe(sessions.size));
    m.createObservableGauge('sirocco_node_kv_blocks_in_use').addCallback((o) => o.observe(engine.info().kvBlocksInUse));
    // What --kv-cache-mb buys in the K/V dtype chosen (q8_0: 1.8× f16's positions).
    m.createObservableGauge('sirocco_node_kv_cache_capacity_tokens', { description: 'Positions the K/V pool holds, all sequences together' }).addCallback((o) =>
      o.observe(kvMaxBlocks * engine.info().kvBlockSlots),
    );
    m.createObservableCounter('sirocco_node_engine_steps_total').addCallback((o) => o.observe(runner.stats().steps));
    m.createObservableCounter('sirocco_node_generated_tokens_total').addCallback((o) =>
      o.observe(runner.stats().generatedTokens),
    );
    m.createObservableCounter('sirocco_node_engine_steps_ahead_total', {
      description: 'Engine steps whose logits came from the step the engine ran ahead, each sequence fed the token it drew',
    }).addCallback((o) => o.observe(engine.info().aheadAnswered));
    m.createObservableCounter('sirocco_node_engine_draws_taken_total', {
      description: 'Sampled tokens the node took as the engine drew them for its step ahead, instead of drawing them again',
    }).addCallback((o) => o.observe(runner.stats().drawsTakenAhead));
    m.createObservableCounter('sirocco_node_engine_positions_taken_back_total', {
      description: 'Sequence positions of steps run ahead taken back (a request ended or the batch changed)',
    }).addCallback((o) => o.observe(engine.info().aheadTakenBack));
    m.createObservableCounter('sirocco_node_preemptions_total', { description: 'Batch lines that gave their sequence to an interactive request' }).addCallback((o) =>
      o.observe(runner.stats().preemptions),
    );
  }

  // The service over a loaded engine; tokenizerFiles are the model's tokenizer.json and
  // tokenizer_config.json contents. Runs the engine's self-test first: never ready on weights
  // that answer NaN.
  static async create(engine: Engine, tokenizerFiles: TokenizerFiles, options: ServiceOptions): Promise<NodeService> {
    const tokenizer = Tokenizer.fromJson(tokenizerFiles.tokenizer, tokenizerFiles.config);
    if (tokenizer.vocabSize > engine.config.vocabSize)
      throw new Error(`${options.modelId}: tokenizer has ${tokenizer.vocabSize} tokens but the model's vocab_size is ${engine.config.vocabSize}`);
    await selfTest(engine, tokenizer.bosId ?? 0);
    const sessions = new SessionStore(engine, {
      maxWarmSessions: options.maxWarmSessions,
      kvBudgetBlocks: Math.floor(options.kvMaxBlocks * WARM_SHARE),
    });
    const runner = new BatchRunner(engine, tokenizer, sessions, {
      maxTokens: options.maxBatchTokens,
      maxSequences: options.maxSequences,
    });
    const info: ModelInfo = {
      id: options.modelId,
      max_context: engine.config.maxPositions,
      vocab_size: engine.config.vocabSize,
      tokenizer: tokenizerFiles.tokenizer,
      tokenizer_config: tokenizerFiles.config,
      engine: engine.info().backend,
    };
    return new NodeService(engine, tokenizer, sessions, runner, info, options.metrics, options.kvMaxBlocks);
  }

  // The grammar engine for response_format, made on first use (~150 ms for a 32k vocabulary).
  private decoding: Promise<ConstrainedDecoding> | null = null;

  // A fresh matcher for one request's response_format; null for free text. Throws
  // ResponseFormatError for a format the grammar cannot express (the gateway checks first).
  async grammarFor(responseFormat: unknown): Promise<TokenMatcher | null> {
    if (responseFormat == null) return null;
    this.decoding ??= ConstrainedDecoding.create(this.tokenizer, { logitsSize: this.engine.config.vocabSize });
    const decoding = await this.decoding;
    const compiled = await decoding.compileResponseFormat(responseFormat);
    return compiled ? decoding.matcher(compiled) : null;
  }

  submit(request: GenerationRequest): { abort: () => void } {
    return this.runner.submit(request);
  }

  // Lets running requests finish within `timeoutMs` (the host has stopped sending new ones).
  async drain(timeoutMs: number): Promise<boolean> {
    const finished = await Promise.race([
      this.runner.idle().then(() => true),
      new Promise<boolean>((r) => setTimeout(() => r(false), timeoutMs).unref()),
    ]);
    return finished;
  }

  async close(): Promise<void> {
    await this.runner.idle();
    this.sessions.clear();
    await this.engine.close();
  }
}
