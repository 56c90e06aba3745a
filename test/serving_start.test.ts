// `npm start`: a gateway and a node on the built-in default model; the printed curls (plain
// and tools) work. `sirocco serve --model …` does the same for any model in one command.
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { afterAll, expect, it } from 'vitest';
import { NODE_SECRET_HEADER } from '../src/protocol/internal_api.ts';
import { TempModels } from './helpers/models.ts';

const dataDir = mkdtempSync(join(tmpdir(), 'sirocco-start-'));
afterAll(() => rmSync(dataDir, { recursive: true, force: true }));

/** `sirocco <args>` with its stdout collected; resolves once it printed its curl (or exited). */
async function launch(args: string[], env: NodeJS.ProcessEnv) {
  const child = spawn(process.execPath, ['bin/sirocco.js', ...args], { env: { ...process.env, SIROCCO_DATA_DIR: dataDir, SIROCCO_DATABASE_URL: '', ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  child.stdout!.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr!.resume();
  const end = Date.now() + 60_000;
  while (!out.includes('Press Ctrl+C') && Date.now() < end && child.exitCode === null) await new Promise((r) => setTimeout(r, 100));
  return { child, out };
}

it('starts, prints a working curl example with the key from SIROCCO_API_KEY, and stops on SIGTERM', async () => {
  const apiKey = 'sk-test-start-key-0123456789';
  const { child, out } = await launch(['start'], { PORT: '0', SIROCCO_API_KEY: apiKey });
  expect(out).toContain(`API key: ${apiKey}`);
  const url = /curl (http:\/\/127\.0\.0\.1:\d+\/v1\/chat\/completions)/.exec(out)![1]!;
  const data = /-d '(.*)'/.exec(out)![1]!;
  const res = await fetch(url, { method: 'POST', headers: { authorization: `Bearer ${apiKey}`, 'content-type': 'application/json' }, body: data });
  expect(res.status).toBe(200);
  const body = (await res.json()) as { model: string; choices: { message: { content: string } }[]; usage: { completion_tokens: number } };
  expect(body.model).toBe('sirocco-default');
  expect(body.usage.completion_tokens).toBeGreaterThan(0);
  // The tools example: valid calls even from the random weights.
  const tools = /Tools:\ncurl \S+ [\s\S]*?-d '([\s\S]*?)'/.exec(out)![1]!;
  const called = await fetch(url, { method: 'POST', headers: { authorization: `Bearer ${apiKey}`, 'content-type': 'application/json' }, body: tools });
  expect(called.status).toBe(200);
  const call = ((await called.json()) as { choices: { finish_reason: string; message: { tool_calls: { function: { name: string; arguments: string } }[] } }[] }).choices[0]!;
  expect(call.finish_reason).toBe('tool_calls');
  expect(call.message.tool_calls[0]!.function.name).toBe('get_weather');
  expect(typeof (JSON.parse(call.message.tool_calls[0]!.function.arguments) as { city: unknown }).city).toBe('string');
  // The README's JS snippet, as written, against this gateway.
  const snippet = /```js\n([\s\S]*?)```/.exec(readFileSync('README.md', 'utf8'))![1]!;
  const file = join(process.cwd(), `.readme-snippet-${process.pid}.mjs`); // in the repo, so 'openai' resolves
  writeFileSync(file, snippet);
  try {
    const run = spawnSync(process.execPath, [file], { env: { ...process.env, SIROCCO_API_KEY: apiKey, SIROCCO_BASE_URL: url.replace(/\/chat\/completions$/, '') }, encoding: 'utf8' });
    expect(run.stderr).toBe('');
    expect(run.status).toBe(0);
    expect(run.stdout).toContain("name: 'get_weather'");
  } finally {
    rmSync(file, { force: true });
  }
  const wrong = await fetch(url, { method: 'POST', headers: { authorization: 'Bearer sk-wrong', 'content-type': 'application/json' }, body: data });
  expect(wrong.status).toBe(401);
  child.kill('SIGTERM');
  const code = await new Promise((r) => child.once('exit', r));
  expect(code).toBe(0);
});

it('sirocco serve --model DIR --tp 2: one command serves a model under its directory name, with a key it created', async () => {
  const models = new TempModels();
  const dir = await models.make({ preset: 'mistral-tiny', seed: 3 });
  const { child, out } = await launch(['serve', '--model', dir, '--tp', '2', '--port', '0'], { SIROCCO_API_KEY: '' });
  try {
    expect(out).toContain(`one node serving '${basename(dir)}'`);
    expect(out).toContain('(tensor parallel 2)');
    expect(out).not.toContain('Tools:'); // this toy vocabulary has no tool tokens
    const apiKey = /API key: (sk-\S+)/.exec(out)![1]!;
    const url = /curl (http:\/\/127\.0\.0\.1:\d+\/v1\/chat\/completions)/.exec(out)![1]!;
    const data = /-d '(.*)'/.exec(out)![1]!;
    const res = await fetch(url, { method: 'POST', headers: { authorization: `Bearer ${apiKey}`, 'content-type': 'application/json' }, body: data });
    expect(res.status).toBe(200);
    expect(((await res.json()) as { model: string }).model).toBe(basename(dir));
  } finally {
    child.kill('SIGINT');
    expect(await new Promise((r) => child.once('exit', r))).toBe(0);
    models.cleanup();
  }
});

it('kill -9 of the launcher takes its node and gateway with it', async () => {
  const models = new TempModels();
  const dir = await models.make({ preset: 'mistral-tiny', seed: 4 });
  const apiKey = 'sk-test-launcher-key-0123456789', secret = 'test-launcher-node-secret-0123456789';
  const { child, out } = await launch(['serve', '--model', dir, '--port', '0'], { SIROCCO_API_KEY: apiKey, SIROCCO_NODE_SECRET: secret });
  try {
    const running = /Sirocco is running: gateway (\S+), one node serving '[^']+' \(node (\S+)\)\./.exec(out)!;
    // Ours answers with this test's key and secret; once a process is gone, its port may go to
    // another test's server (ephemeral ports are reused), which refuses them.
    const answers = (url: string, headers: Record<string, string>) => fetch(url, { headers }).then((res) => res.status === 200, () => false);
    const ours = () =>
      Promise.all([answers(`${running[1]!}/v1/models`, { authorization: `Bearer ${apiKey}` }), answers(`${running[2]!}/internal/v1/ready`, { [NODE_SECRET_HEADER]: secret })]);
    expect(await ours()).toEqual([true, true]);
    child.kill('SIGKILL');
    // Gone for good: neither answers on 5 polls in a row (a process shutting down may drop its
    // open connections a moment before it stops taking new ones).
    const deadline = Date.now() + 15_000;
    let quiet = 0;
    while (quiet < 5 && Date.now() < deadline) {
      quiet = (await ours()).some(Boolean) ? 0 : quiet + 1;
      await new Promise((r) => setTimeout(r, 200));
    }
    expect(quiet).toBe(5);
  } finally {
    child.kill('SIGKILL');
    models.cleanup();
  }
});
