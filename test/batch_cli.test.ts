// `sirocco batch` (issue 14): an OpenAI Batch input file through a node and gateway of its own.
// Output lines in input order, one per input line; lines that cannot be sent become error lines
// naming their line numbers; greedy responses equal the API's for the same requests; killed
// with -9 (or Ctrl+C) mid-run and started again, it completes the file with no line lost or
// repeated.
import { execFile, spawn } from 'node:child_process';
import { appendFileSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import OpenAI from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startStack, type Stack } from './helpers/stack.ts';

const run = promisify(execFile);
let stack: Stack;
let client: OpenAI;
beforeAll(async () => {
  stack = await startStack();
  client = new OpenAI({ baseURL: `${stack.gateway.url}/v1`, apiKey: await stack.createKey('batch-test') });
});
afterAll(() => stack?.stop());

type Output = { id: string; custom_id: string | null; response: { status_code: number; body: any } | null; error: { code: string; message: string } | null };
const readOutput = (path: string): Output[] => readFileSync(path, 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l) as Output);

// n greedy requests, chat and completions in turn, some sharing a prompt.
function requests(n: number, maxTokens: number) {
  return Array.from({ length: n }, (_, i) =>
    i % 3 === 0
      ? { custom_id: `req-${i}`, method: 'POST', url: '/v1/completions', body: { model: 'sirocco-test', prompt: `Once upon a time ${i % 4}`, max_tokens: maxTokens, temperature: 0 } }
      : { custom_id: `req-${i}`, method: 'POST', url: '/v1/chat/completions', body: { model: 'sirocco-test', messages: [{ role: 'user', content: `Tell me about ${i % 5}` }], max_tokens: maxTokens, temperature: 0 } },
  );
}

const text = (o: Output) => {
  const c = o.response!.body.choices[0];
  return c.message ? c.message.content : c.text;
};

function batchArgs(input: string, output: string, extra: string[] = []) {
  return ['bin/sirocco.js', 'batch', '--model', stack.modelDir, '--model-id', 'sirocco-test', '--max-sequences', '8', ...extra, input, output];
}

describe('sirocco batch', () => {
  it('writes a line per input line in input order: responses as the API gives them, errors naming their lines', async () => {
    const dir = stack.models.root;
    const good = requests(12, 6);
    const lines = good.map((r) => JSON.stringify(r));
    lines.splice(3, 0, '{"custom_id": "broken", ');
    lines.splice(6, 0, JSON.stringify({ ...good[0], custom_id: 'req-1' })); // repeats line 2's id
    lines.splice(8, 0, JSON.stringify({ custom_id: 'get', method: 'GET', url: '/v1/chat/completions', body: {} }));
    lines.splice(9, 0, JSON.stringify({ custom_id: 'stream', method: 'POST', url: '/v1/chat/completions', body: { ...good[1]!.body, stream: true } }));
    lines.splice(10, 0, JSON.stringify({ custom_id: 'other-model', method: 'POST', url: '/v1/chat/completions', body: { ...good[1]!.body, model: 'no-such-model' } }));
    const input = join(dir, 'mixed.jsonl');
    const output = join(dir, 'mixed.out.jsonl');
    writeFileSync(input, lines.join('\n') + '\n\n');
    const { stderr } = await run(process.execPath, batchArgs(input, output));
    expect(stderr).toMatch(/\d+\/17 lines · [\d.]+ tok\/s/);

    const out = readOutput(output);
    expect(out.map((o) => o.custom_id)).toEqual(lines.map((l) => { try { return JSON.parse(l).custom_id; } catch { return null; } }));
    const errors = Object.fromEntries(out.filter((o) => o.error).map((o) => [o.custom_id ?? 'null', o.error!]));
    expect(errors).toEqual({
      null: { code: 'invalid_json', message: expect.stringMatching(/^line 4: not JSON/) },
      'req-1': { code: 'duplicate_custom_id', message: "line 7: custom_id 'req-1' is also on line 2: each must be unique" },
      get: { code: 'invalid_request', message: 'line 9: method: must be "POST"' },
      stream: { code: 'invalid_request', message: 'line 10: body.stream: a batch request cannot stream' },
    });
    expect(out.find((o) => o.custom_id === 'other-model')!.response).toMatchObject({ status_code: 404, body: { error: { code: 'model_not_found' } } });
    // Each of the good requests: a 200 with the text the API gives for it.
    for (const r of good.slice(0, 4)) {
      const o = out.find((x) => x.custom_id === r.custom_id && !x.error)!;
      expect(o.response!.status_code).toBe(200);
      const api = r.url === '/v1/completions' ? (await client.completions.create(r.body as any)).choices[0]!.text : (await client.chat.completions.create(r.body as any)).choices[0]!.message.content;
      expect(text(o), r.custom_id).toBe(api);
      expect(o.response!.body.usage.completion_tokens).toBe(6);
    }
    // Run again: every line is there, nothing to do.
    const again = await run(process.execPath, batchArgs(input, output));
    expect(again.stderr).toContain('nothing left to do (17 lines');
    expect(readOutput(output)).toHaveLength(17);
  });

  it('killed with -9 and started again, completes the file: no line lost or repeated, the same greedy texts', async () => {
    const dir = stack.models.root;
    const input = join(dir, 'resume.jsonl');
    writeFileSync(input, requests(48, 24).map((r) => JSON.stringify(r)).join('\n') + '\n');
    const whole = join(dir, 'whole.out.jsonl');
    await run(process.execPath, batchArgs(input, whole, ['--order', 'finished']));

    const output = join(dir, 'resume.out.jsonl');
    const child = spawn(process.execPath, batchArgs(input, output), { stdio: 'ignore' });
    const lineCount = () => { try { return readFileSync(output, 'utf8').split('\n').length - 1; } catch { return 0; } };
    for (let i = 0; i < 600 && lineCount() < 8; i++) await new Promise((r) => setTimeout(r, 50));
    child.kill('SIGKILL');
    await new Promise((r) => child.once('exit', r));
    const before = lineCount();
    expect(before).toBeGreaterThanOrEqual(8);
    expect(before).toBeLessThan(48);
    appendFileSync(output, '{"id":"batch_req_torn'); // a write cut short
    const { stderr } = await run(process.execPath, batchArgs(input, output));
    expect(stderr).toContain(`has ${before} of the 48 lines: resuming`);

    const out = readOutput(output);
    expect(out.map((o) => o.custom_id)).toEqual(requests(48, 24).map((r) => r.custom_id));
    expect(new Set(out.map((o) => o.id)).size).toBe(48);
    const texts = new Map(readOutput(whole).map((o) => [o.custom_id, text(o)]));
    expect(texts.size).toBe(48);
    for (const o of out) expect(text(o), o.custom_id!).toBe(texts.get(o.custom_id));
  });

  it('interrupted (Ctrl+C), stops at once without writing its lines in flight as failures, and resumes', async () => {
    const dir = stack.models.root;
    const input = join(dir, 'sigint.jsonl');
    writeFileSync(input, requests(32, 24).map((r) => JSON.stringify(r)).join('\n') + '\n');
    const output = join(dir, 'sigint.out.jsonl');
    const child = spawn(process.execPath, batchArgs(input, output), { stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
    const lineCount = () => { try { return readFileSync(output, 'utf8').split('\n').length - 1; } catch { return 0; } };
    for (let i = 0; i < 600 && lineCount() < 4; i++) await new Promise((r) => setTimeout(r, 50));
    child.kill('SIGINT');
    const code = await new Promise((r) => child.once('exit', r));
    expect(code).toBe(130);
    expect(stderr).toContain('run the same command to resume');
    const partial = readOutput(output);
    expect(partial.length).toBeLessThan(32);
    expect(partial.every((o) => o.error === null && o.response!.status_code === 200)).toBe(true);
    await run(process.execPath, batchArgs(input, output));
    expect(readOutput(output).map((o) => o.custom_id)).toEqual(requests(32, 24).map((r) => r.custom_id));
  });

  it('refuses a call without its two files, saying what it takes', async () => {
    await expect(run(process.execPath, ['bin/sirocco.js', 'batch', '--model', stack.modelDir, 'in.jsonl'])).rejects.toMatchObject({
      code: 1,
      stderr: expect.stringContaining('give the input and the output file: IN.jsonl OUT.jsonl'),
    });
  });
});
