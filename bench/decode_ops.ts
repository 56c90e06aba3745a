// Where a batch-1 decode step's time goes, by op (Engine.setOpTiming: engine_op_timing): the
// share of the step its matrix reads take (matmul, moe, logits) and the bandwidth they read
// at, attention's share, the other ops', and the time between ops (the step's own planning,
// the shards' joins, the host). The roofline's missing share split into "the matmuls read
// slower than the probe" and "the step does other things": the two have different fixes.
import type { Engine } from '../src/engine/engine.ts';
import { decodeStep, greedyNext, now, tokens } from './engine_timings.ts';

export type DecodeOps = {
  steps: number;
  stepMs: number; // mean wall time of a timed step, as the bench's caller sees it
  matrixShare: number; // of the step: matmul + moe + logits
  matrixGBs: number; // the matrices' bytes over their time (shard 0's: its slice with --tp > 1)
  probeGBs: number; // the bandwidth probe's, run just before the steps (a VM's memory moves by half within a minute)
  attentionShare: number;
  otherOpsShare: number; // norms, RoPE, K/V writes, SwiGLU, residual adds, routing, embedding
  betweenShare: number; // the step's time outside every op
};

const MATRIX_OPS = new Set(['matmul', 'moe', 'logits']);

// `steps` batch-1 decode steps after a short prompt and a bandwidth probe (probe(): GB/s), timed
// op by op (a few microseconds a step of timing: the headline decode figures come from untimed
// steps).
export async function measureDecodeOps(engine: Engine, steps: number, probe: () => number): Promise<DecodeOps> {
  const s = engine.createSequence();
  let next = await greedyNext(engine, s, tokens(engine.config.vocabSize, 16, 2));
  const probeGBs = probe();
  next = await decodeStep(engine, s, next); // the engine's threads awake
  engine.setOpTiming(true);
  let wall = 0;
  try {
    for (let k = 0; k < steps; k++) {
      const t0 = now();
      next = await decodeStep(engine, s, next);
      wall += now() - t0;
    }
    const times = engine.opTimes();
    const seconds = (f: (op: string) => boolean) => times.filter((t) => f(t.op)).reduce((n, t) => n + t.seconds, 0);
    const matrixSeconds = seconds((op) => MATRIX_OPS.has(op)), attention = seconds((op) => op === 'attention');
    const opSeconds = seconds(() => true);
    const matrixBytes = times.filter((t) => MATRIX_OPS.has(t.op)).reduce((n, t) => n + t.weightBytes, 0);
    return {
      steps,
      stepMs: (1000 * wall) / steps,
      matrixShare: matrixSeconds / wall,
      matrixGBs: matrixBytes / matrixSeconds / 1e9,
      probeGBs,
      attentionShare: attention / wall,
      otherOpsShare: (opSeconds - matrixSeconds - attention) / wall,
      betweenShare: Math.max(0, wall - opSeconds) / wall,
    };
  } finally {
    engine.setOpTiming(false);
    engine.freeSequence(s);
  }
}

// The bench's JSON of it; matrix_gb_s is shard 0's with --tp > 1.
export const decodeOpsJson = (o: DecodeOps) => ({
  steps: o.steps,
  step_ms: o.stepMs,
  matrix_share: o.matrixShare,
  matrix_gb_s: o.matrixGBs,
  probe_gb_s: o.probeGBs,
  matrix_share_of_probe: o.matrixGBs / o.probeGBs,
  attention_share: o.attentionShare,
  other_ops_share: o.otherOpsShare,
  between_ops_share: o.betweenShare,
});
