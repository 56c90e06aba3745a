// OpenAI Batch files, line by line: an input line is {custom_id, method: "POST", url, body};
// an output line is {id, custom_id, response: {status_code, request_id, body} | null,
// error: {code, message} | null}. A line that cannot be sent becomes an error line naming its
// line number. Output ids are derived from the line (number and custom_id), so a resumed run
// recognises the lines a killed one wrote and writes the same ids again.
import { createHash } from 'node:crypto';
import { z } from 'zod';

export const BATCH_URLS = ['/v1/chat/completions', '/v1/completions'] as const;

const InputLine = z.strictObject({
  custom_id: z.string({ error: 'must be a string' }).min(1, 'must not be empty').max(512, 'must be at most 512 characters'),
  method: z.literal('POST', { error: 'must be "POST"' }),
  url: z.enum(BATCH_URLS, { error: `must be one of ${BATCH_URLS.join(', ')}` }),
  body: z.record(z.string(), z.unknown(), { error: 'must be a JSON object (the request)' }),
});

export type BatchRequest = { line: number; id: string; customId: string; url: (typeof BATCH_URLS)[number]; body: Record<string, unknown> };
export type BatchError = { code: string; message: string };
export type OutputLine = {
  id: string;
  custom_id: string | null;
  response: { status_code: number; request_id: string | null; body: unknown } | null;
  error: BatchError | null;
};
// One input line: a request to send, or the error line to write instead.
export type ParsedLine = { ok: true; request: BatchRequest } | { ok: false; output: OutputLine };

export const outputId = (line: number, customId: string | null) =>
  `batch_req_${createHash('sha256').update(`${line}\n${customId ?? ''}`).digest('hex').slice(0, 24)}`;

const errorLine = (line: number, customId: string | null, code: string, message: string): ParsedLine => ({
  ok: false,
  output: { id: outputId(line, customId), custom_id: customId, response: null, error: { code, message: `line ${line}: ${message}` } },
});

// Every non-blank line of an input file, numbered from 1; a custom_id seen before is an error.
export function parseBatchInput(text: string): ParsedLine[] {
  const seen = new Map<string, number>();
  const out: ParsedLine[] = [];
  text.split('\n').forEach((raw, i) => {
    const line = i + 1;
    if (raw.trim() === '') return;
    let json: unknown;
    try {
      json = JSON.parse(raw);
    } catch (err) {
      return out.push(errorLine(line, null, 'invalid_json', `not JSON (${(err as Error).message})`));
    }
    const customId = typeof (json as { custom_id?: unknown })?.custom_id === 'string' ? (json as { custom_id: string }).custom_id : null;
    const parsed = InputLine.safeParse(json);
    if (!parsed.success) {
      const issue = parsed.error.issues[0]!;
      return out.push(errorLine(line, customId, 'invalid_request', issue.path.length ? `${issue.path.join('.')}: ${issue.message}` : issue.message));
    }
    const { custom_id, url, body } = parsed.data;
    const first = seen.get(custom_id);
    if (first !== undefined) return out.push(errorLine(line, custom_id, 'duplicate_custom_id', `custom_id '${custom_id}' is also on line ${first}: each must be unique`));
    seen.set(custom_id, line);
    if (body.stream === true) return out.push(errorLine(line, custom_id, 'invalid_request', 'body.stream: a batch request cannot stream'));
    out.push({ ok: true, request: { line, id: outputId(line, custom_id), customId: custom_id, url, body } });
  });
  return out;
}
