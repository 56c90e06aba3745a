// Small pieces shared by the gateway's CLI verbs: turning a zod issue into a one-line
// message that names the flag, and plain-text tables.
import { z } from 'zod';

/** `--flag: message` for the first issue; unknown flags are named as such. */
export function describeIssue(error: z.ZodError, command: string): string {
  const issue = error.issues[0];
  if (!issue) return 'invalid arguments';
  if (issue.code === 'unrecognized_keys') return `--${issue.keys[0]} is not an option of '${command}'`;
  const path = issue.path.map(String);
  return path.length > 0 ? `--${path[0]}: ${issue.message}` : issue.message;
}

/** A flag holding a positive integer, as parseArgs hands it over (a string). */
export const positiveIntFlag = z
  .string()
  .regex(/^[1-9]\d{0,14}$/, 'expects a positive integer')
  .transform(Number);

/** Columns padded to their widest cell; `right` names the columns aligned right (numbers). */
export function formatTable(headers: string[], rows: string[][], right: ReadonlySet<number> = new Set()): string {
  const widths = headers.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: string[]) =>
    cells
      .map((c, i) => (right.has(i) ? c.padStart(widths[i]!) : c.padEnd(widths[i]!)))
      .join('  ')
      .trimEnd();
  return [line(headers), ...rows.map(line)].join('\n') + '\n';
}
