// The bench's measurements on one loaded engine: prefill, batched decode and decode after a
// long prompt, in tokens/s. Portable: bench.ts runs it in Node, browser_wasm.ts in Chromium.
import type { Engine } from '../src/engine/engine.ts';
import { argmax } from '../src/engine/greedy.ts';

export type TimingOptions = { prefill: number; decode: number; batch: number[]; context?: number };
export type Timings = { prefill: number; decode: [batch: number, tokS: number][]; contextDecode: number | null };

const now = () => performance.now() / 1000;

// log: a line per phase; progress: after each decode step (bench.ts redraws a line on a TTY).
export async function measureEngine(engine: Engine, opts: TimingOptions, log: (s: string) => void, progress?: (s: string) => void): Promise<Timings> {
  const V = engine.config.vocabSize;
  const tokens = (n: number, seed: number) => Array.from({ length: n }, (_, i) => 3 + ((seed * 7919 + i * 104729) % (V - 3)));

  // Prefill: one sequence, the whole prompt in one step; best of 3 after a warm-up.
  log(`  prefill ${opts.prefill} tokens …`);
  let best = Infinity;
  for (let rep = 0; rep < 4; rep++) {
    const s = engine.createSequence();
    const t0 = now();
    await engine.step([{ sequence: s, tokens: tokens(opts.prefill, rep) }]);
    if (rep > 0) best = Math.min(best, now() - t0);
    engine.freeSequence(s);
  }
  // Decode: `batch` sequences with a short prompt each, then `decode` steps of one token each.
  const decode: Timings['decode'] = [];
  for (const batch of opts.batch) {
    log(`  decode ${opts.decode} steps × batch ${batch} …`);
    const seqs = Array.from({ length: batch }, () => engine.createSequence());
    let rows = await engine.step(seqs.map((s, i) => ({ sequence: s, tokens: tokens(16, i + 1) })));
    rows = await engine.step(seqs.map((s, i) => ({ sequence: s, tokens: [argmax(rows[i]![0]!)] }))); // warm-up
    const t0 = now();
    for (let k = 0; k < opts.decode; k++) {
      rows = await engine.step(seqs.map((s, i) => ({ sequence: s, tokens: [argmax(rows[i]![0]!)] })));
      progress?.(`  batch ${batch}: step ${k + 1}/${opts.decode}`);
    }
    decode.push([batch, (batch * opts.decode) / (now() - t0)]);
    for (const s of seqs) engine.freeSequence(s);
  }
  // Long context: the prompt fed in chunks (as the node's scheduler does), then batch-1 decode
  // after one warm-up step.
  let contextDecode: number | null = null;
  if (opts.context !== undefined) {
    log(`  decode ${opts.decode} steps after a ${opts.context}-token prompt …`);
    const s = engine.createSequence();
    const prompt = tokens(opts.context, 99);
    let last: Float32Array | undefined;
    for (let at = 0; at < prompt.length; at += 512) [[last]] = await engine.step([{ sequence: s, tokens: prompt.slice(at, at + 512) }]);
    [[last]] = await engine.step([{ sequence: s, tokens: [argmax(last!)] }]);
    const t0 = now();
    for (let k = 0; k < opts.decode; k++) [[last]] = await engine.step([{ sequence: s, tokens: [argmax(last!)] }]);
    contextDecode = opts.decode / (now() - t0);
    engine.freeSequence(s);
  }
  return { prefill: opts.prefill / best, decode, contextDecode };
}
