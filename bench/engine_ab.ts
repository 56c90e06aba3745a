// `npm run bench:ab`: two builds of the native addon compared in interleaved rounds, for kernel
// work. Each round runs every build in a fresh process (the build copied over
// build/Release/sirocco.node, the original put back at the end) timing greedy decode steps of
// one bench model. On a shared VM decode moves ±20% within minutes, so only builds measured
// side by side, round after round, compare; read how many rounds each wins, not one figure.
//   npm run bench:ab -- --a base.node --b new.node [--preset mistral-mini] [--dtype q4_0]
//                       [--threads 2] [--isa avx2] [--steps 64] [--batch 1] [--context 4096] [--rounds 4]
//                       [--prefill 256] [--isa-b TABLE]
// --isa-b TABLE: B runs this kernel table (A --isa's): two tables of one build, --a and --b the same file.
// --prefill N: time one N-token prompt (the median of 5 after a warm-up) instead of decode steps.
// --context N: a sequence at N tokens stepped alternately with the batch (the extra ms a step
// spends at N tokens is the long-context cost, as `npm run bench -- --context N` measures it).
// --alternate: both builds loaded at once, in two processes, and each single measurement (one
// decode step, one prompt, or with --context one step of the sequence at N) alternates between
// them, which of the two goes first alternating too; --rounds is then the number of such pairs
// (default 20). A VM's slow minutes then fall on both builds alike: the same build against
// itself read a median B/A of 0.989–1.002 (12 to 30 pairs; decode and prefill, Intel Xeon, on
// a VM whose prefill times moved ±30% that hour).
// The process loaded second may run a little faster (decode 0.989, and a 1.021 that read
// 0.985 with --a and --b swapped), or slower (the same build against itself: 1.047, B faster
// in 1 of 9 pairs, batch 16, Intel Xeon): for a change of a few percent, --both-orders runs
// the pairs again with B's process loaded first and reports both medians and their mean.
import { execFileSync, spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import { copyFileSync, existsSync, mkdtempSync, rmSync, unlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { z } from 'zod';
import { Engine } from '../src/engine/engine.ts';
import { argmax } from '../src/engine/greedy.ts';
import { DEFAULT_KV_DTYPE, KV_DTYPES } from '../src/engine/native.ts';
import { scriptArgs } from './script_args.ts';
import { REUSE_LOGITS, median, tokens } from './engine_timings.ts';

const USAGE = `usage: npm run bench:ab -- --a A.node --b B.node [--preset mistral-mini|mixtral-mini] [--dtype f16|bf16|f32|q8_0|q4_0]
                       [--threads N] [--isa TABLE] [--steps 64] [--batch 1] [--context N] [--kv-dtype f16|f32|q8_0] [--rounds 4] [--prefill N]
                       [--alternate] [--both-orders] [--isa-b TABLE]
Times greedy decode steps (or, with --prefill N, an N-token prompt) of .bench/models/PRESET-DTYPE (made by \`npm run bench\`) with each build
in turn, a fresh process a build a round, and prints each round's median step and B/A. --alternate: both builds loaded at once,
single steps (or prompts) alternating between them, --rounds pairs of them (default 20). --both-orders (implies --alternate): then as
many pairs again with B's process loaded first, and the geometric mean of the two medians. --isa-b TABLE: B on that kernel table, A on
--isa's (with --a and --b the same file: two tables of one build).`;

const Options = z.object({
  a: z.string().optional(),
  b: z.string().optional(),
  preset: z.enum(['mixtral-mini', 'mistral-mini']).default('mistral-mini'),
  dtype: z.enum(['f16', 'bf16', 'f32', 'q8_0', 'q4_0']).default('q4_0'),
  threads: z.coerce.number().int().positive().default(2),
  isa: z.string().optional(),
  'isa-b': z.string().optional(),
  steps: z.coerce.number().int().positive().default(64),
  batch: z.coerce.number().int().positive().default(1),
  context: z.coerce.number().int().positive().optional(),
  'kv-dtype': z.enum(KV_DTYPES).default(DEFAULT_KV_DTYPE),
  prefill: z.coerce.number().int().positive().optional(),
  rounds: z.coerce.number().int().positive().optional(),
  alternate: z.boolean().default(false),
  'both-orders': z.boolean().default(false),
  child: z.boolean().default(false),
  serve: z.boolean().default(false),
});
const text = { type: 'string' } as const;
const opts = scriptArgs(
  USAGE,
  { a: text, b: text, preset: text, dtype: text, threads: text, isa: text, 'isa-b': text, steps: text, batch: text, context: text, 'kv-dtype': text, prefill: text, rounds: text, alternate: { type: 'boolean' }, 'both-orders': { type: 'boolean' }, child: { type: 'boolean' }, serve: { type: 'boolean' } },
  Options,
);
const modelDir = join('.bench', 'models', `${opts.preset}-${opts.dtype}`);
const ChildResult = z.object({ isa: z.string(), stepMs: z.number(), longMs: z.number().nullable() });
type ChildResult = z.infer<typeof ChildResult>;

const loadEngine = () => Engine.load(modelDir, { threads: opts.threads, weightsIn: 'memory', tp: 1, kvDtype: opts['kv-dtype'], isa: opts.isa });

type LongSequence = { s: ReturnType<Engine['createSequence']>; next: number };
// A sequence with `context` tokens cached (prompted 512 at a time) and its next token.
async function longSequence(engine: Engine, context: number): Promise<LongSequence> {
  const s = engine.createSequence(), prompt = tokens(engine.config.vocabSize, context, 99);
  let next = 0;
  for (let at = 0; at < prompt.length; at += 512) [next] = (await batchNext(engine, [s], () => prompt.slice(at, at + 512))) as [number];
  return { s, next };
}

// One step of the batch, sequence i fed feed(i): each sequence's next token (greedy), found in
// JavaScript, as builds from before the engine's RowScan cannot (engine.ts: stepScanned).
async function batchNext(engine: Engine, seqs: number[], feed: (i: number) => number[]): Promise<number[]> {
  const rows = await engine.step(seqs.map((s, i) => ({ sequence: s, tokens: feed(i) })), REUSE_LOGITS);
  return rows.map((r) => argmax(r[0]!));
}

// One build's timings, in this process: the batch's median step and, with --context, the long
// sequence's, the two stepped in turn.
async function childRun(): Promise<ChildResult> {
  const engine = await loadEngine();
  const V = engine.config.vocabSize;
  if (opts.prefill !== undefined) {
    const prefillMs: number[] = [];
    for (let rep = 0; rep <= 5; rep++) {
      const s = engine.createSequence(), t0 = performance.now();
      await engine.step([{ sequence: s, tokens: tokens(V, opts.prefill, rep + 1) }]);
      if (rep > 0) prefillMs.push(performance.now() - t0); // rep 0 warms up
      engine.freeSequence(s);
    }
    const isa = engine.info().isa;
    await engine.close();
    return { isa, stepMs: median(prefillMs), longMs: null };
  }
  const seqs = Array.from({ length: opts.batch }, () => engine.createSequence());
  let next = await batchNext(engine, seqs, (i) => tokens(V, 64, i + 1));
  const long = opts.context === undefined ? undefined : await longSequence(engine, opts.context);
  const stepMs: number[] = [], longMs: number[] = [];
  for (let k = 0; k <= opts.steps; k++) {
    const t0 = performance.now();
    next = await batchNext(engine, seqs, (i) => [next[i]!]);
    const t1 = performance.now();
    if (long) [long.next] = (await batchNext(engine, [long.s], () => [long.next])) as [number];
    if (k === 0) continue; // the warm-up step
    stepMs.push(t1 - t0);
    if (long) longMs.push(performance.now() - t1);
  }
  const isa = engine.info().isa;
  await engine.close();
  return { isa, stepMs: median(stepMs), longMs: long ? median(longMs) : null };
}

// --alternate's child: the engine loaded, "ready" printed, then for each line on stdin one
// measurement (a decode step of the batch, an N-token prompt, or with --context a decode step
// of the sequence at that context) and its milliseconds.
async function serve() {
  const engine = await loadEngine();
  const V = engine.config.vocabSize;
  const seqs = Array.from({ length: opts.batch }, () => engine.createSequence());
  let next = await batchNext(engine, seqs, (i) => tokens(V, 64, i + 1));
  const long = opts.context === undefined ? undefined : await longSequence(engine, opts.context);
  console.log(`ready ${engine.info().isa}`);
  let rep = 0;
  for await (const _ of createInterface({ input: process.stdin })) {
    const t0 = performance.now();
    if (opts.prefill !== undefined) {
      const s = engine.createSequence();
      await engine.step([{ sequence: s, tokens: tokens(V, opts.prefill, ++rep) }]);
      engine.freeSequence(s);
    } else if (long) [long.next] = (await batchNext(engine, [long.s], () => [long.next])) as [number];
    else next = await batchNext(engine, seqs, (i) => [next[i]!]);
    console.log((performance.now() - t0).toFixed(3));
  }
  await engine.close();
}

const ADDON = join('build', 'Release', 'sirocco.node');

// The child's options: this run's, but the builds (and its own table).
function childArgs(isa = opts.isa) {
  const { preset, dtype, threads, steps, batch, context, prefill } = opts;
  return Object.entries({ preset, dtype, threads, isa, steps, batch, context, prefill, 'kv-dtype': opts['kv-dtype'] })
    .filter(([, v]) => v !== undefined)
    .flatMap(([k, v]) => [`--${k}`, String(v)]);
}

// Ctrl-C puts every swapped addon back (--both-orders swaps twice) before exiting.
const pendingRestores = new Set<() => void>();
process.on('SIGINT', () => {
  for (const restore of [...pendingRestores]) restore();
  process.exit(130);
});

// Puts `file` in place of the addon (the original copied aside first), and the original back.
function addonSwap() {
  const saved = join(mkdtempSync(join(tmpdir(), 'sirocco-ab-')), 'sirocco.node');
  copyFileSync(ADDON, saved);
  // Replace, never write through: the build's output may be a hard link to its object file,
  // and a running child keeps the file it loaded. --a or --b naming the addon itself means the
  // build as it was: its saved copy (unlinking it first had deleted the build).
  const install = (file: string) => {
    const source = resolve(file) === resolve(ADDON) ? saved : file;
    unlinkSync(ADDON);
    copyFileSync(source, ADDON);
  };
  const restore = () => {
    if (!pendingRestores.delete(restore)) return;
    install(saved);
    rmSync(join(saved, '..'), { recursive: true, force: true });
  };
  pendingRestores.add(restore);
  return { install, restore };
}

// --alternate's pairs, A's process loaded first or B's; returns each pair's B/A.
async function alternatePairs(a: string, b: string, bFirst: boolean): Promise<number[]> {
  const { install, restore } = addonSwap();
  type Child = { measure: () => Promise<number>; end: () => void };
  const start = async (file: string, isa?: string): Promise<[Child, string]> => {
    install(file);
    const child = spawn(process.execPath, ['--import', 'tsx', 'bench/engine_ab.ts', ...childArgs(isa), '--serve'], { stdio: ['pipe', 'pipe', 'inherit'] });
    const lines = createInterface({ input: child.stdout! })[Symbol.asyncIterator]();
    const next = async () => {
      const line = await lines.next();
      if (line.done) throw new Error(`the child running ${file} exited (code ${child.exitCode})`);
      return line.value;
    };
    const ready = await next();
    return [{ measure: async () => (child.stdin!.write('\n'), z.coerce.number().parse(await next())), end: () => child.stdin!.end() }, ready.replace('ready ', '')];
  };
  const children: Child[] = [];
  try {
    const startB = async () => {
      const started = await start(b, opts['isa-b'] ?? opts.isa);
      children.push(started[0]);
      return started;
    };
    const bLoaded = bFirst ? await startB() : undefined;
    const [ca, isa] = await start(a);
    children.push(ca);
    const [cb, isaB] = bLoaded ?? (await startB());
    restore();
    const what =
      opts.prefill !== undefined ? `${opts.prefill}-token prompt` : opts.context !== undefined ? `decode step at ${opts.context} tokens` : `decode step (batch ${opts.batch})`;
    console.log(
      `${isa === isaB ? isa : `A ${isa}, B ${isaB}`}: ${what}, builds alternating, the first of each pair alternating too; ${bFirst ? "B's" : "A's"} process loaded first`,
    );
    const msA: number[] = [], msB: number[] = [], ratios: number[] = [];
    for (let pair = 0; pair < (opts.rounds ?? 20); pair++) {
      const [first, second] = pair % 2 ? [cb, ca] : [ca, cb];
      const x = await first.measure(), y = await second.measure();
      const [ta, tb] = pair % 2 ? [y, x] : [x, y];
      if (pair === 0) continue; // warm-up
      msA.push(ta), msB.push(tb), ratios.push(tb / ta);
    }
    console.log(`A median ${median(msA).toFixed(2)} ms  B median ${median(msB).toFixed(2)} ms`);
    console.log(`B faster in ${ratios.filter((r) => r < 1).length} of ${ratios.length} pairs; median B/A ${median(ratios).toFixed(3)}`);
    return ratios;
  } finally {
    for (const c of children) c.end();
    restore();
  }
}

async function alternate(a: string, b: string) {
  const first = await alternatePairs(a, b, false);
  if (!opts['both-orders']) return;
  const second = await alternatePairs(a, b, true), all = [...first, ...second];
  const [m1, m2] = [median(first), median(second)];
  console.log(
    `both orders: median B/A ${m1.toFixed(3)} (A's process loaded first), ${m2.toFixed(3)} (B's first); geometric mean ${Math.sqrt(m1 * m2).toFixed(3)}; B faster in ${all.filter((r) => r < 1).length} of ${all.length} pairs`,
  );
}

function driver(a: string, b: string) {
  const { install, restore } = addonSwap();
  const show = (r: ChildResult) =>
    `${r.stepMs.toFixed(2)} ms` + (r.longMs === null ? '' : ` (at ${opts.context}: ${r.longMs.toFixed(2)}, +${(r.longMs - r.stepMs).toFixed(2)})`);
  const ratios: number[] = [];
  try {
    const rounds = opts.rounds ?? 4;
    for (let round = 1; round <= rounds; round++) {
      const results = ([[a, opts.isa], [b, opts['isa-b'] ?? opts.isa]] as const).map(([file, isa]) => {
        install(file);
        const out = execFileSync(process.execPath, ['--import', 'tsx', 'bench/engine_ab.ts', ...childArgs(isa), '--child'], {
          encoding: 'utf8',
          stdio: ['ignore', 'pipe', 'inherit'],
        });
        return ChildResult.parse(JSON.parse(out.trim().split('\n').at(-1)!));
      });
      const [ra, rb] = results as [ChildResult, ChildResult];
      ratios.push(rb.stepMs / ra.stepMs);
      console.log(`round ${round}/${rounds} (${ra.isa === rb.isa ? ra.isa : `${ra.isa}, ${rb.isa}`}): A ${show(ra)}  B ${show(rb)}  B/A ${ratios.at(-1)!.toFixed(3)}`);
    }
  } finally {
    restore();
  }
  console.log(`B faster in ${ratios.filter((r) => r < 1).length} of ${ratios.length} rounds; median B/A ${median(ratios).toFixed(3)}`);
}

if (!existsSync(join(modelDir, 'config.json'))) {
  console.error(`no model at ${modelDir}: make it once with \`npm run bench -- --preset ${opts.preset} --dtype ${opts.dtype}\``);
  process.exitCode = 1;
} else if (opts.child) console.log(JSON.stringify(await childRun()));
else if (opts.serve) await serve();
else if (!opts.a || !opts.b || !existsSync(opts.a) || !existsSync(opts.b)) {
  console.error(`--a and --b name two built addons (copies of build/Release/sirocco.node)\n${USAGE}`);
  process.exitCode = 1;
} else if (!existsSync(ADDON)) {
  console.error('no build/Release/sirocco.node to put back afterwards: npm run build:native first');
  process.exitCode = 1;
} else if (opts.alternate || opts['both-orders']) await alternate(opts.a, opts.b);
else driver(opts.a, opts.b);
