// `sirocco logits`: the engine check of DESIGN.md §3. Runs token ids through the engine
// (several --prompt flags as one batch), prints greedy tokens and logits as one JSON object.
import { parseArgs } from 'node:util';
import { z } from 'zod';
import type { Engine } from '../engine/engine.ts';
import { ModelLoadError } from '../engine/errors.ts';
import { generateGreedy } from '../engine/generate.ts';
import { DEFAULT_KV_DTYPE, KV_DTYPES, nativeErrorCode } from '../engine/native.ts';
import { resolveModelDir } from '../weights/model_uri.ts';
import { openEngine } from '../weights/shard_load.ts';

const USAGE = `usage: sirocco logits --model DIR|s3://bucket/prefix --prompt 1,2,3 [--prompt 4,5] [--steps N] [--chunk K]
                                    [--prompt-logits] [--threads N] [--tp N] [--moe-split columns|experts]
                                    [--kv-dtype f16|f32|q8_0] [--isa scalar|avx2|avx512|avx512_amx|wasm_simd128] [--backend native|wasm]

Prints {"compute_dtype","cases":[{"prompt_tokens","generated","logits_last","step_logits"[,"prompt_logits"]}]}.
  --steps N         greedy tokens to generate per prompt (default 1)
  --chunk K         prefill prompts in chunks of K tokens (default: whole prompt)
  --prompt-logits   also print the logits after every prompt token
  --tp N            split the model into N tensor-parallel shards (N must divide the KV heads)
  --moe-split S     MoE under --tp: 'columns' (default: every expert split) or 'experts' (whole experts per shard)
  --kv-dtype D      K/V cache storage: f16 (default), f32, or q8_0 (56% of f16's memory)
  --isa I           force a kernel table (default: SIROCCO_ISA, else the best this CPU runs;
                    with --backend wasm: scalar, wasm_simd128 or, where the runtime has relaxed
                    SIMD (Node 22+), wasm_relaxed_simd; default the best of those)
  --backend B       native (default: the C++ addon) or wasm (the same engine in WebAssembly:
                    one thread, one shard; build it with 'npm run build:wasm')
`;

const tokenList = z
  .string()
  .regex(/^\s*\d+(\s*,\s*\d+)*\s*$/, 'expected comma-separated token ids, e.g. 1,2,3')
  .transform((s) => s.split(',').map((t) => Number(t.trim())));
const intFlag = (name: string) =>
  z
    .string()
    .regex(/^\d+$/, `--${name} expects a positive integer`)
    .transform(Number)
    .refine((n) => n >= 1, `--${name} expects a positive integer`);

const Options = z.object({
  model: z.string({ error: '--model DIR is required' }).min(1),
  prompt: z.array(tokenList, { error: 'at least one --prompt is required' }).min(1, 'at least one --prompt is required'),
  steps: intFlag('steps').default(1),
  chunk: intFlag('chunk').optional(),
  threads: intFlag('threads').optional(),
  tp: intFlag('tp').default(1),
  'moe-split': z.enum(['columns', 'experts']).default('columns'),
  'kv-dtype': z.enum(KV_DTYPES).default(DEFAULT_KV_DTYPE),
  isa: z.enum(['scalar', 'avx2', 'avx512', 'avx512_amx', 'wasm_simd128', 'wasm_relaxed_simd']).optional(),
  backend: z.enum(['native', 'wasm']).default('native'),
  'prompt-logits': z.boolean().default(false),
});

export async function runLogits(argv: string[]): Promise<number> {
  let raw;
  try {
    raw = parseArgs({
      args: argv,
      options: {
        model: { type: 'string' },
        prompt: { type: 'string', multiple: true },
        steps: { type: 'string' },
        chunk: { type: 'string' },
        threads: { type: 'string' },
        tp: { type: 'string' },
        'moe-split': { type: 'string' },
        'kv-dtype': { type: 'string' },
        isa: { type: 'string' },
        backend: { type: 'string' },
        'prompt-logits': { type: 'boolean' },
        help: { type: 'boolean', short: 'h' },
      },
      strict: true,
    }).values;
  } catch (err) {
    process.stderr.write(`sirocco logits: ${(err as Error).message}\n\n${USAGE}`);
    return 1;
  }
  if (raw.help) {
    process.stdout.write(USAGE);
    return 0;
  }
  const parsed = Options.safeParse(raw);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    const flag = issue.path.length ? `--${String(issue.path[0])}: ` : '';
    process.stderr.write(`sirocco logits: ${flag}${issue.message}\n\n${USAGE}`);
    return 1;
  }
  const opts = parsed.data;

  let engine: Engine;
  try {
    const engineOptions = { backend: opts.backend, threads: opts.threads, moeSplit: opts['moe-split'], kvDtype: opts['kv-dtype'], isa: opts.isa };
    ({ engine } = await openEngine(opts.model, opts.tp, engineOptions, (uri) => resolveModelDir(uri)));
  } catch (err) {
    if (err instanceof ModelLoadError || nativeErrorCode(err) === 'BAD_INPUT' || /(native|WASM) engine/.test((err as Error).message)) {
      process.stderr.write(`sirocco logits: ${(err as Error).message}\n`);
      return 1;
    }
    throw err;
  }
  try {
    const vocab = engine.config.vocabSize;
    for (const p of opts.prompt)
      for (const t of p)
        if (t >= vocab) {
          process.stderr.write(`sirocco logits: token id ${t} is outside the model's vocabulary [0, ${vocab})\n`);
          return 1;
        }
    const cases = await generateGreedy(engine, opts.prompt, {
      steps: opts.steps,
      chunk: opts.chunk,
      promptLogits: opts['prompt-logits'],
    });
    const out = {
      compute_dtype: 'f32',
      cases: cases.map((c) => ({
        prompt_tokens: c.promptTokens,
        generated: c.generated,
        logits_last: Array.from(c.stepLogits[0]!),
        step_logits: c.stepLogits.map((v) => Array.from(v)),
        ...(opts['prompt-logits'] ? { prompt_logits: c.promptLogits.map((v) => Array.from(v)) } : {}),
      })),
    };
    process.stdout.write(JSON.stringify(out) + '\n');
    return 0;
  } finally {
    await engine.close();
  }
}
