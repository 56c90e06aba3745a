// The options of a bench or chaos script: --help (-h) prints its usage and exits 0; an unknown
// option or a bad value prints what was wrong and the usage, and exits 2 — no stack trace.
import { parseArgs, type ParseArgsConfig } from 'node:util';
import type { z } from 'zod';

type Flags = NonNullable<ParseArgsConfig['options']>;

export function scriptArgs<S extends z.ZodTypeAny>(usage: string, flags: Flags, schema: S): z.output<S> {
  const fail = (message: string): never => {
    process.stderr.write(`${message}\n\n${usage.trimEnd()}\n`);
    process.exit(2);
  };
  let values: Record<string, unknown> = {};
  try {
    values = parseArgs({ options: { ...flags, help: { type: 'boolean', short: 'h' } } }).values;
  } catch (err) {
    fail((err as Error).message);
  }
  if (values.help) {
    process.stdout.write(`${usage.trimEnd()}\n`);
    process.exit(0);
  }
  delete values.help;
  const parsed = schema.safeParse(values);
  if (!parsed.success) return fail(parsed.error.issues.map((i) => `--${i.path.join('.')}: ${i.message}`).join('\n'));
  return parsed.data;
}
