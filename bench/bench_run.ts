// One column of `npm run bench`'s table: what it ran (Column), what it measured (Run), and its
// entry in the bench's --json report (runJson), each figure beside the roofline or peak it is
// read against (Yardsticks: worked out once for the whole bench, bench.ts).
import type { EngineBackend } from '../src/engine/native.ts';
import { decodeOpsJson, type DecodeOps } from './decode_ops.ts';
import { median, SHORT_CONTEXT, type Timings } from './engine_timings.ts';
import type { PrefillPeak } from './peaks.ts';

// An engine configuration, and where the WASM engine runs.
export type Column = { tp: number; backend: EngineBackend; isa?: string; host?: 'chromium' };

export type Run = Column & {
  isa: string;
  threadsPerShard: number;
  stepsAhead: boolean; // decode steps ran ahead (TimingOptions.ahead)
  prefill: number;
  decode: Map<number, number>;
  contextDecode: Timings['contextDecode'];
  // Batch-1 decode, each short run right after a bandwidth probe (native engines only).
  pairs: { gbS: number; tokS: number }[];
  ops: DecodeOps | null; // batch-1 decode op by op (native engines only)
  shardBytes: number[];
};

export type Yardsticks = {
  batches: number[];
  context: number | undefined;
  rooflineTps: number;
  contextKvBytes: number; // K/V bytes a step reads at `context`
  contextRooflineTps: number;
  prefillPeak: PrefillPeak;
  prefillShare: (tps: number) => number; // % of prefillPeak
  pairShare: (p: Run['pairs'][number]) => number; // of the roofline of the probe just before
  pairSteps: number;
  vsNative: Run | null; // --backend wasm: the native column each is compared with
};

export const runJson = (r: Run, y: Yardsticks) => ({
  backend: r.backend,
  isa: r.isa,
  tp: r.tp,
  threads_per_shard: r.threadsPerShard,
  steps_ahead: r.stepsAhead,
  prefill_tok_s: r.prefill,
  prefill_share_of_peak: y.prefillShare(r.prefill) / 100,
  prefill_peak: y.prefillPeak.field,
  decode: y.batches.map((b) => ({ batch: b, tok_s: r.decode.get(b)!, ...(b === 1 ? { share_of_roofline: r.decode.get(b)! / y.rooflineTps } : {}) })),
  context_decode:
    y.context === undefined
      ? null
      : {
          context: y.context,
          tok_s: r.contextDecode!.tokS,
          kv_bytes_per_token: y.contextKvBytes,
          roofline_tok_s: y.contextRooflineTps,
          share_of_roofline: r.contextDecode!.tokS / y.contextRooflineTps,
          // median step at short_context / median step at context, the two interleaved
          ratio_to_short_context: r.contextDecode!.ratioToShort,
          short_context: SHORT_CONTEXT,
        },
  decode_beside_bandwidth:
    r.pairs.length === 0
      ? null
      : {
          steps_per_pair: y.pairSteps,
          pairs: r.pairs.map((p) => ({ bandwidth_gb_s: p.gbS, tok_s: p.tokS, share_of_roofline: y.pairShare(p) })),
          median_share_of_roofline: median(r.pairs.map(y.pairShare)),
        },
  decode_ops: r.ops && decodeOpsJson(r.ops),
  weight_bytes_per_shard: r.shardBytes,
  ...(y.vsNative
    ? { vs_native: { isa: y.vsNative.isa, prefill: r.prefill / y.vsNative.prefill, decode: y.batches.map((b) => ({ batch: b, ratio: r.decode.get(b)! / y.vsNative!.decode.get(b)! })) } }
    : {}),
});
