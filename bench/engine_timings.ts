// The bench's measurements on one loaded engine: prefill, batched decode and decode after a
// long prompt, in tokens/s. Portable: bench.ts runs it in Node, browser_wasm.ts in Chromium.
import type { Engine, StepOptions } from '../src/engine/engine.ts';

// ahead: whether decode steps run ahead (StepOptions.ahead); undefined: as the node has them.
export type TimingOptions = { prefill: number; decode: number; batch: number[]; context?: number; ahead?: boolean };
export type Timings = {
  prefill: number;
  decode: [batch: number, tokS: number][];
  // ratioToShort: median step at SHORT_CONTEXT over median step at the long context, interleaved.
  contextDecode: { tokS: number; ratioToShort: number } | null;
};

// The context the long-context decode is compared with.
export const SHORT_CONTEXT = 64;

// Seconds, for timing steps.
export const now = () => performance.now() / 1000;
// The middle of a (copied, sorted) list: the bench's robust summary of per-step or per-pair figures.
export const median = (a: number[]) => [...a].sort((x, y) => x - y)[a.length >> 1]!;
// n deterministic token ids of a vocabulary of V, avoiding the 3 special ones.
export const tokens = (V: number, n: number, seed: number) => Array.from({ length: n }, (_, i) => 3 + ((seed * 7919 + i * 104729) % (V - 3)));
// Decode steps keep their logits in the engine's buffer, as the node's batch runner does
// (StepOptions.reuseLogits): each step's are read before the next.
export const REUSE_LOGITS = { reuseLogits: true } as const;
// And where the next step is the same sequences' greedy one, the engine runs it ahead when the
// node would have it (StepOptions.ahead, Engine.runsAhead: the native engine). The
// first timed step then starts while the untimed one before it is read: 0.3–0.5 ms ahead of
// the clock, once.
export const greedyAhead = (engine: Engine, ahead = engine.runsAhead): StepOptions => ({ reuseLogits: true, ahead });
// One greedy step of one sequence: feeds `tokens` (a prompt chunk, or the last token), returns
// the next.
export const greedyNext = async (engine: Engine, sequence: ReturnType<Engine['createSequence']>, tokens: number[], options: StepOptions = REUSE_LOGITS) =>
  (await greedyStep(engine, [sequence], () => tokens, options))[0]!;
// One greedy step of several sequences, sequence i fed feed(i): each one's next token, as the
// node finds it (the engine's RowScan).
const greedyStep = async (engine: Engine, seqs: number[], feed: (i: number) => number[], options: StepOptions = REUSE_LOGITS) =>
  (await engine.stepScanned(seqs.map((s, i) => ({ sequence: s, tokens: feed(i) })), options)).scans.map((r) => r[0]!.argmax);
export const decodeStep = (engine: Engine, sequence: ReturnType<Engine['createSequence']>, token: number, options: StepOptions = REUSE_LOGITS) =>
  greedyNext(engine, sequence, [token], options);

// log: a line per phase; progress: after each decode step (bench.ts redraws a line on a TTY).
export async function measureEngine(engine: Engine, opts: TimingOptions, log: (s: string) => void, progress?: (s: string) => void): Promise<Timings> {
  const V = engine.config.vocabSize;

  // Prefill: one sequence, the whole prompt in one step; best of 3 after a warm-up.
  log(`  prefill ${opts.prefill} tokens …`);
  let best = Infinity;
  for (let rep = 0; rep < 4; rep++) {
    const s = engine.createSequence();
    const t0 = now();
    await engine.step([{ sequence: s, tokens: tokens(V, opts.prefill, rep) }]);
    if (rep > 0) best = Math.min(best, now() - t0);
    engine.freeSequence(s);
  }
  // Decode: `batch` sequences with a short prompt each, then `decode` steps of one token each.
  const decode: Timings['decode'] = [];
  for (const batch of opts.batch) {
    log(`  decode ${opts.decode} steps × batch ${batch} …`);
    const seqs = Array.from({ length: batch }, () => engine.createSequence());
    const stepAll = (feed: (i: number) => number[]) => greedyStep(engine, seqs, feed, greedyAhead(engine, opts.ahead));
    let next = await stepAll((i) => tokens(V, 16, i + 1));
    next = await stepAll((i) => [next[i]!]); // warm-up
    const t0 = now();
    for (let k = 0; k < opts.decode; k++) {
      next = await stepAll((i) => [next[i]!]);
      progress?.(`  batch ${batch}: step ${k + 1}/${opts.decode}`);
    }
    decode.push([batch, (batch * opts.decode) / (now() - t0)]);
    for (const s of seqs) engine.freeSequence(s);
  }
  // Long context: the prompt fed in chunks (as the node's scheduler does), then batch-1 decode
  // after one warm-up step, its steps alternating with those of a sequence at a short context
  // (so none runs ahead):
  // the ratio of their median steps holds still while the machine's speed drifts (on shared VMs
  // decode moves ±20% between runs minutes apart, which a ratio of two runs would carry).
  let contextDecode: Timings['contextDecode'] = null;
  if (opts.context !== undefined) {
    log(`  decode ${opts.decode} steps after a ${opts.context}-token prompt, alternating with ${SHORT_CONTEXT} tokens …`);
    const seqs = [opts.context, SHORT_CONTEXT].map((n) => ({ s: engine.createSequence(), prompt: tokens(V, n, 99), next: 0, seconds: [] as number[] }));
    for (const q of seqs) {
      for (let at = 0; at < q.prompt.length; at += 512) q.next = await greedyNext(engine, q.s, q.prompt.slice(at, at + 512));
      q.next = await decodeStep(engine, q.s, q.next);
    }
    for (let k = 0; k < opts.decode; k++) {
      for (const q of seqs) {
        const t0 = now();
        q.next = await decodeStep(engine, q.s, q.next);
        q.seconds.push(now() - t0);
      }
      progress?.(`  long context: step ${k + 1}/${opts.decode}`);
    }
    const [long, short] = seqs;
    contextDecode = { tokS: opts.decode / long!.seconds.reduce((a, b) => a + b, 0), ratioToShort: median(short!.seconds) / median(long!.seconds) };
    for (const q of seqs) engine.freeSequence(q.s);
  }
  return { prefill: opts.prefill / best, decode, contextDecode };
}

// Batch-1 decode in `rounds` short runs of `steps` steps, each right after `probe()` measures
// the memory bandwidth (GB/s): a share of the roofline from a pair measured seconds apart, not
// from one bandwidth figure and one decode figure taken minutes apart on a VM whose bandwidth
// moves by half within a minute.
export async function measureDecodeBesideBandwidth(engine: Engine, probe: () => number, rounds: number, steps: number, ahead?: boolean): Promise<{ gbS: number; tokS: number }[]> {
  const s = engine.createSequence();
  let next = await greedyNext(engine, s, tokens(engine.config.vocabSize, 16, 1));
  const pairs: { gbS: number; tokS: number }[] = [];
  for (let r = 0; r < rounds; r++) {
    const gbS = probe();
    next = await decodeStep(engine, s, next, greedyAhead(engine, ahead)); // the engine's threads awake again
    const t0 = now();
    // The last step runs none ahead: the next probe has the machine to itself.
    for (let k = 0; k < steps; k++) next = await decodeStep(engine, s, next, k < steps - 1 ? greedyAhead(engine, ahead) : REUSE_LOGITS);
    pairs.push({ gbS, tokS: steps / (now() - t0) });
  }
  engine.freeSequence(s);
  return pairs;
}
