// What every chaos scenario is: a name, what it proves, and a run that starts its own real
// processes on 127.0.0.1, does its damage and returns its figure and verdict. `short` is the
// CI size (the same checks on fewer requests and rounds).
export type Outcome = { figure: string; pass: boolean; notes?: string[] };

export type Scenario = {
  name: string;
  claim: string; // what passing means, as the report states it
  run: (options: { short: boolean; log: (line: string) => void }) => Promise<Outcome>;
};

export const quantile = (xs: readonly number[], q: number): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor(q * s.length))] ?? NaN;
};

export const ms = (x: number): string => `${x.toFixed(1)} ms`;

export const sleep = (t: number) => new Promise((r) => setTimeout(r, t));

/** The OpenAI error object's shape: {error: {message, type, param, code}}, nothing else. */
export function isOpenAIError(body: unknown): body is { error: { message: string; type: string; param: string | null; code: string | null } } {
  if (typeof body !== 'object' || body === null || !('error' in body)) return false;
  const e = (body as { error: unknown }).error as Record<string, unknown>;
  return (
    typeof e === 'object' &&
    e !== null &&
    Object.keys(e).sort().join() === 'code,message,param,type' &&
    typeof e.message === 'string' &&
    e.message.length > 0 &&
    typeof e.type === 'string' &&
    (e.param === null || typeof e.param === 'string') &&
    (e.code === null || typeof e.code === 'string')
  );
}
