// Structured JSON logs, one object per line on stderr. Callers pass only ids and numbers:
// never an API key, a prompt or generated text.
type Fields = Record<string, string | number | boolean | null | undefined>;

export function log(level: 'info' | 'warn' | 'error', msg: string, fields: Fields = {}): void {
  process.stderr.write(JSON.stringify({ time: new Date().toISOString(), level, msg, ...fields }) + '\n');
}
