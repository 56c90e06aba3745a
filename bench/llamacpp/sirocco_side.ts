// Sirocco's half of the side-by-side bench, the same two tests as llama_side_bench.cpp, timed
// the same way (compare.ts runs the two in alternating child processes):
//   pp N — a fresh sequence, one N-token prompt in one step
//   tg N — a fresh sequence (or one prefilled to --depth), then N single-token steps; with
//          --sequences S, S fresh sequences (a 16-token prompt each, not timed) stepping together.
//          Greedy: each sequence fed its last argmax, the engine running each next step ahead
//          where the node would have it (Engine.runsAhead); the tokens fed change neither
//          engine's time a step
// one untimed warm-up of each, then --reps timed runs; prints one JSON line of the times.
import { z } from 'zod';
import { Engine } from '../../src/engine/engine.ts';
import { argmax } from '../../src/engine/greedy.ts';
import { isaWithTuning } from '../../src/engine/native.ts';
import { REUSE_LOGITS, greedyAhead, tokens } from '../engine_timings.ts';
import { scriptArgs } from '../script_args.ts';

const USAGE = `usage: node --import tsx bench/llamacpp/sirocco_side.ts --model DIR [--threads 2] [--prompt 256] [--gen 64] [--depth 0] [--reps 5] [--sequences 1] [--isa TABLE] [--check]
Times a prompt and single-token decode of the model in DIR as llama_side_bench.cpp does llama.cpp's; one JSON line on stdout.
--check: no timing; the logits after llama_side_bench's check prompt (argmax and the first 8).`;
const int = (d: number) => z.coerce.number().int().nonnegative().default(d);
const opts = scriptArgs(
  USAGE,
  { model: { type: 'string' }, threads: { type: 'string' }, prompt: { type: 'string' }, gen: { type: 'string' }, depth: { type: 'string' }, reps: { type: 'string' }, sequences: { type: 'string' }, isa: { type: 'string' }, check: { type: 'boolean' } },
  z.object({ model: z.string(), threads: int(2), prompt: int(256), gen: int(64), depth: int(0), reps: int(5), sequences: z.coerce.number().int().positive().default(1), isa: z.string().optional(), check: z.boolean().default(false) }),
);

const engine = await Engine.load(opts.model, { threads: opts.threads, weightsIn: 'memory', tp: 1, isa: opts.isa }).catch((err: Error) => {
  process.stderr.write(`sirocco_side: ${err.message}\n`);
  process.exit(1);
});
const V = engine.config.vocabSize;
if (opts.check) {
  // The logits after llama_side_bench.cpp's check prompt: argmax and the first 8.
  const sequence = engine.createSequence();
  const [[logits]] = await engine.step([{ sequence, tokens: tokens(V, 16, 7) }]);
  process.stdout.write(`${JSON.stringify({ argmax: argmax(logits!), first: [...logits!.subarray(0, 8)].map((x) => +x.toFixed(5)) })}\n`);
  await engine.close();
  process.exit(0);
}
let seed = 1;
const now = () => performance.now() / 1000;

// gen greedy steps of `sequences` after `first` (a prompt each, or their next tokens, not
// timed); seconds of the steps.
async function greedyTg(sequences: number[], first: number[][]): Promise<number> {
  let { scans } = await engine.stepScanned(sequences.map((sequence, i) => ({ sequence, tokens: first[i]! })), greedyAhead(engine));
  const t0 = now();
  for (let i = 0; i < opts.gen; i++)
    ({ scans } = await engine.stepScanned(sequences.map((sequence, j) => ({ sequence, tokens: [scans[j]![0]!.argmax] })), greedyAhead(engine)));
  return now() - t0;
}

// S sequences: a 16-token prompt each, then gen steps of one token each.
async function batchedTg(): Promise<number> {
  const sequences = Array.from({ length: opts.sequences }, () => engine.createSequence());
  try {
    return await greedyTg(sequences, sequences.map(() => tokens(V, 16, seed++)));
  } finally {
    for (const s of sequences) engine.freeSequence(s);
  }
}

// One run of a test: seconds of its timed part (a depth prefill, in 512-token chunks, is not timed).
async function run(prompt: boolean): Promise<number> {
  if (!prompt && opts.sequences > 1) return batchedTg();
  const sequence = engine.createSequence();
  try {
    for (let at = 0; at < opts.depth; at += 512) await engine.step([{ sequence, tokens: tokens(V, Math.min(512, opts.depth - at), seed++) }], REUSE_LOGITS);
    if (!prompt) return await greedyTg([sequence], [tokens(V, 1, seed++)]);
    const t0 = now();
    await engine.step([{ sequence, tokens: tokens(V, opts.prompt, seed++) }], REUSE_LOGITS);
    return now() - t0;
  } finally {
    engine.freeSequence(sequence);
  }
}

const out: Record<string, unknown> = { threads: opts.threads, prompt: opts.prompt, gen: opts.gen, depth: opts.depth, sequences: opts.sequences, system: isaWithTuning(engine.info().isa) };
for (const prompt of [true, false]) {
  if ((prompt ? opts.prompt : opts.gen) === 0) continue;
  await run(prompt); // warm-up
  const s: number[] = [];
  for (let r = 0; r < opts.reps; r++) s.push(await run(prompt));
  out[prompt ? 'pp_s' : 'tg_s'] = s;
}
process.stdout.write(`${JSON.stringify(out)}\n`);
await engine.close();
