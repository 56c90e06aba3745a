// `sirocco make-tiny`: command-line front end of makeTiny. Flags are parsed with
// node:util parseArgs, turned from strings into numbers by one zod schema, then checked for
// consistency by the options schema; any problem is one clear line per flag and exit 1.
import { parseArgs, type ParseArgsConfig } from 'node:util';
import { z } from 'zod';
import { writeModel } from './make_tiny.ts';
import { describeOptionIssues, makeTinyOptionsSchema, type MakeTinyOptions } from './make_tiny_options.ts';
import { presetNames } from './presets.ts';

const usage = `usage: sirocco make-tiny --preset NAME --out DIR [--seed N] [--dtype f32|f16|bf16] [overrides]

Writes a deterministic random-weight model in Hugging Face layout.

  --preset NAME       ${presetNames.join(' | ')}
  --out DIR           output directory (created; old model*.safetensors files are replaced)
  --seed N            base seed, 0 … 4294967295 (default 0)
  --dtype D           f32 | f16 | bf16 (default f32)
  --shards N          write N shards + model.safetensors.index.json (default 1: one file)
  --quiet             print nothing

overrides of the preset's shape:
  --hidden N  --intermediate N  --layers N  --heads N  --kv-heads N  --head-dim N
  --experts N (0 or 1 = dense Mistral)  --top-k N  --window N|none  --vocab N
  --rope-theta X  --eps X  --tie | --no-tie
`;

const text = { type: 'string' } as const;
const flag = { type: 'boolean' } as const;
const argOptions = {
  preset: text, out: text, dtype: text, seed: text, shards: text, quiet: flag, help: { ...flag, short: 'h' },
  hidden: text, intermediate: text, layers: text, heads: text, 'kv-heads': text, 'head-dim': text,
  experts: text, 'top-k': text, window: text, vocab: text, 'rope-theta': text, eps: text, tie: flag, 'no-tie': flag,
} as const satisfies NonNullable<ParseArgsConfig['options']>;

const numberPattern = /^[-+]?(\d+(\.\d*)?|\.\d+)([eE][-+]?\d+)?$/;
const numeric = z.string().regex(numberPattern, 'expected a number').transform(Number).optional();

// Stage 1: strings → typed values; keys are the flags themselves so errors name them.
const cliSchema = z.object({
  preset: z.string({ error: 'is required' }),
  out: z.string({ error: 'is required' }),
  dtype: z.string().optional(),
  seed: numeric,
  shards: numeric,
  hidden: numeric,
  intermediate: numeric,
  layers: numeric,
  heads: numeric,
  'kv-heads': numeric,
  'head-dim': numeric,
  experts: numeric,
  'top-k': numeric,
  vocab: numeric,
  'rope-theta': numeric,
  eps: numeric,
  window: z
    .string()
    .regex(new RegExp(`^(none|null|${numberPattern.source.slice(1, -1)})$`), 'expected a number or "none"')
    .transform((v) => (v === 'none' || v === 'null' ? null : Number(v)))
    .optional(),
  tie: z.boolean().optional(),
  'no-tie': z.boolean().optional(),
  quiet: z.boolean().optional(),
}).refine((v) => !(v.tie && v['no-tie']), { message: 'give --tie or --no-tie, not both', path: ['tie'] });

type CliValues = z.output<typeof cliSchema>;

/** Every option named once; values (preset and dtype names included) are checked next. */
function toOptions(v: CliValues): { [K in keyof MakeTinyOptions]-?: unknown } {
  return {
    preset: v.preset,
    out: v.out,
    dtype: v.dtype,
    seed: v.seed,
    shards: v.shards,
    hidden: v.hidden,
    intermediate: v.intermediate,
    layers: v.layers,
    heads: v.heads,
    kvHeads: v['kv-heads'],
    headDim: v['head-dim'],
    experts: v.experts,
    topK: v['top-k'],
    window: v.window,
    vocab: v.vocab,
    ropeTheta: v['rope-theta'],
    eps: v.eps,
    tie: v.tie ? true : v['no-tie'] ? false : undefined,
    quiet: v.quiet,
  };
}

function fail(message: string): number {
  const lines = message.split('\n');
  const body = lines.length === 1 ? lines[0] : `invalid options:\n  ${lines.join('\n  ')}`;
  process.stderr.write(`sirocco make-tiny: ${body}\nRun 'sirocco make-tiny --help' for the options.\n`);
  return 1;
}

export async function runMakeTiny(argv: string[]): Promise<number> {
  let values: Record<string, string | boolean | undefined>;
  try {
    values = parseArgs({ args: argv, options: argOptions, strict: true, allowPositionals: false }).values;
  } catch (err) {
    return fail(err instanceof Error ? err.message : String(err));
  }
  if (values.help) {
    process.stdout.write(usage);
    return 0;
  }
  const cli = cliSchema.safeParse(values);
  if (!cli.success) {
    return fail(cli.error.issues.map((i) => `--${String(i.path[0] ?? '')}: ${i.message}`).join('\n'));
  }
  const plan = makeTinyOptionsSchema.safeParse(toOptions(cli.data));
  if (!plan.success) return fail(describeOptionIssues(plan.error));
  await writeModel(plan.data);
  return 0;
}
