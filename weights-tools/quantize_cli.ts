// `sirocco weights quantize SRC --to q8_0|q4_0 --out DIR`: command-line front end of
// quantizeModel. Flags are parsed with node:util parseArgs and checked by one zod schema; a
// problem is one clear line and exit 1.
import { parseArgs } from 'node:util';
import { z } from 'zod';
import { resolveModelDir } from '../src/weights/model_uri.ts';
import { quantizeModel } from './quantize.ts';
import { quantFormats } from './quantize_blocks.ts';

const usage = `usage: sirocco weights quantize SRC --to q8_0|q4_0 --out DIR [--quiet]

Writes a copy of the model in SRC (a model directory, s3://bucket/prefix or hf:org/name) whose matrices are
stored in blocks of 32 weights with one f16 scale, as llama.cpp's Q8_0 (8.5 bits per weight)
or Q4_0 (4.5 bits). Norms and the MoE router keep their dtype; tokenizer files are copied.

  --to F      q8_0 | q4_0
  --out DIR   output directory (created; old weight files in it are replaced)
  --quiet     print nothing
`;

const Options = z.object({
  source: z.string({ error: 'SRC (a model directory, s3://… or hf:…) is required' }).min(1),
  to: z.enum(quantFormats, { error: `--to must be one of ${quantFormats.join(', ')}` }),
  out: z.string({ error: '--out DIR is required' }).min(1, '--out DIR is required'),
  quiet: z.boolean().default(false),
});

function fail(message: string): number {
  process.stderr.write(`sirocco weights quantize: ${message}\nRun 'sirocco weights quantize --help' for the options.\n`);
  return 1;
}

export async function runQuantize(argv: string[]): Promise<number> {
  let parsed;
  try {
    parsed = parseArgs({
      args: argv,
      options: { to: { type: 'string' }, out: { type: 'string' }, quiet: { type: 'boolean' }, help: { type: 'boolean', short: 'h' } },
      allowPositionals: true,
      strict: true,
    });
  } catch (err) {
    return fail((err as Error).message);
  }
  if (parsed.values.help) {
    process.stdout.write(usage);
    return 0;
  }
  if (parsed.positionals.length > 1) return fail(`one source expected, got ${parsed.positionals.length}: ${parsed.positionals.join(' ')}`);
  const options = Options.safeParse({ ...parsed.values, source: parsed.positionals[0] });
  if (!options.success) return fail(options.error.issues[0]!.message);
  try {
    // Remote sources are fetched (and verified) into the local cache first.
    await quantizeModel({ ...options.data, source: await resolveModelDir(options.data.source) });
  } catch (err) {
    // Bad input (unreadable or malformed source, already quantized): a message, not a trace.
    if (err instanceof Error) return fail(err.message);
    throw err;
  }
  return 0;
}
