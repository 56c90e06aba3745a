// `sirocco batch --model M IN.jsonl OUT.jsonl`: an OpenAI Batch input file through a node and a
// gateway of its own on 127.0.0.1 (the same request handling as the API, so a line's response
// is what /v1/chat/completions or /v1/completions answers), as many requests at once as the node
// decodes together. Resumable: run again with the same files after a kill, and the lines
// already in OUT are skipped (batch_output.ts).
import { execFileSync, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { z } from 'zod';
import { parseBatchInput } from '../batch/batch_lines.ts';
import { BatchOutput } from '../batch/batch_output.ts';
import { answerWithRetry, runBatch, type BatchProgress, type Send } from '../batch/batch_runner.ts';
import { modelIdOf, servedCard, spawnService } from './start.ts';

const CLI = resolve(fileURLToPath(import.meta.url), '../../../bin/sirocco.js');

const USAGE = `usage: sirocco batch --model DIR|s3://bucket/prefix|hf:org/name [--model-id ID] [--tp N]
                    [--max-sequences 16] [--order input|finished] IN.jsonl OUT.jsonl

Runs an OpenAI Batch input file ({"custom_id","method":"POST","url":"/v1/chat/completions" or
"/v1/completions","body":{…}} per line) on a node and a gateway it starts on 127.0.0.1, and
writes OpenAI Batch output lines ({"id","custom_id","response":{"status_code","request_id","body"},
"error"}) to OUT. A line that cannot be sent (not JSON, a field missing, a repeated custom_id)
gets an error line naming its line number, and the batch goes on. Run it again with the same
files after an interruption: the lines already in OUT are skipped.
  --model M          what 'sirocco node --model' takes
  --model-id ID      the name the requests' "model" must give (default: the model's name)
  --tp N             tensor-parallel shards on the node
  --max-sequences N  requests decoded together, and so in flight (default 16)
  --order O          input (default: OUT in input order) or finished (each line as it finishes)
`;

const Options = z.strictObject({
  model: z.string({ error: '--model is required' }).min(1),
  'model-id': z.string().min(1).max(200).optional(),
  tp: z.coerce.number({ error: '--tp expects a number' }).int().positive().optional(),
  'max-sequences': z.coerce.number({ error: '--max-sequences expects a number' }).int().positive().max(256).default(16),
  order: z.enum(['input', 'finished'], { error: '--order is input or finished' }).default('input'),
});

function progressLine(p: BatchProgress, already: number): string {
  const width = 24;
  const filled = p.total === 0 ? width : Math.round((width * p.done) / p.total);
  const rate = p.elapsedSeconds > 0 ? p.completionTokens / p.elapsedSeconds : 0;
  const eta = p.done > 0 ? ((p.total - p.done) * p.elapsedSeconds) / p.done : NaN;
  const etaText = Number.isFinite(eta) ? `ETA ${Math.floor(eta / 60)}m${String(Math.round(eta % 60)).padStart(2, '0')}s` : 'ETA …';
  return `[${'='.repeat(filled).padEnd(width)}] ${p.done + already}/${p.total + already} lines · ${rate.toFixed(1)} tok/s · ${etaText}`;
}

const sender = (gatewayUrl: string, apiKey: string): Send => (request) =>
  answerWithRetry(() =>
    fetch(`${gatewayUrl}${request.url}`, {
      method: 'POST',
      headers: { authorization: `Bearer ${apiKey}`, 'content-type': 'application/json' },
      body: JSON.stringify(request.body),
    }),
  );

export async function runBatchCli(argv: string[]): Promise<number> {
  let options: z.infer<typeof Options>;
  let files: string[];
  try {
    const { values, positionals } = parseArgs({
      args: argv,
      allowPositionals: true,
      options: { model: { type: 'string' }, 'model-id': { type: 'string' }, tp: { type: 'string' }, 'max-sequences': { type: 'string' }, order: { type: 'string' }, help: { type: 'boolean', short: 'h' } },
    });
    if (values.help) {
      process.stdout.write(USAGE);
      return 0;
    }
    const { help: _help, ...flags } = values;
    options = Options.parse(flags);
    if (positionals.length !== 2) throw new Error('give the input and the output file: IN.jsonl OUT.jsonl');
    files = positionals;
  } catch (err) {
    const message = err instanceof z.ZodError ? err.issues[0]!.message : (err as Error).message;
    process.stderr.write(`sirocco batch: ${message}\n\n${USAGE}`);
    return 1;
  }
  const [inPath, outPath] = files as [string, string];
  let text: string;
  try {
    text = readFileSync(inPath, 'utf8');
  } catch (err) {
    process.stderr.write(`sirocco batch: cannot read ${inPath}: ${(err as Error).message}\n`);
    return 1;
  }
  const lines = parseBatchInput(text);
  const output = await BatchOutput.open(outPath);
  const todo = lines.filter((l) => !output.written.has(l.ok ? l.request.id : l.output.id));
  const already = lines.length - todo.length;
  if (already > 0) process.stderr.write(`sirocco batch: ${outPath} has ${already} of the ${lines.length} lines: resuming\n`);
  if (todo.length === 0) {
    await output.close();
    process.stderr.write(`sirocco batch: nothing left to do (${lines.length} lines in ${outPath})\n`);
    return 0;
  }

  const modelId = options['model-id'] ?? modelIdOf(options.model);
  const dataDir = mkdtempSync(join(tmpdir(), 'sirocco-batch-'));
  const env = { ...process.env, SIROCCO_NODE_SECRET: randomBytes(24).toString('hex'), SIROCCO_API_KEY: '' };
  const children: ChildProcess[] = [];
  const stopAll = () => children.forEach((c) => c.exitCode === null && c.kill('SIGTERM'));
  // Interrupted: leave at once, as a kill would — the lines in flight are not written (they
  // would be written as failures once the node stops) and run again on resume.
  const interrupted = (signal: string) => {
    stopAll();
    rmSync(dataDir, { recursive: true, force: true });
    process.stderr.write(`\nsirocco batch: ${signal}: ${outPath} holds the lines done so far; run the same command to resume\n`);
    process.exit(130);
  };
  process.once('SIGINT', () => interrupted('interrupted'));
  process.once('SIGTERM', () => interrupted('terminated'));
  try {
    process.stderr.write(`sirocco batch: starting a node on ${options.model} …\n`);
    const apiKey = execFileSync(process.execPath, [CLI, 'keys', 'create', '--name', 'batch', '--data', dataDir], { env, stdio: ['ignore', 'pipe', 'pipe'] }).toString().trim();
    const nodeArgs = ['node', '--model', options.model, '--model-id', modelId, '--port', '0', '--max-sequences', String(options['max-sequences']), '--max-queue', String(4 * options['max-sequences'])];
    const node = await spawnService([...nodeArgs, ...(options.tp ? ['--tp', String(options.tp)] : [])], env, true);
    children.push(node.child);
    const gateway = await spawnService(['gateway', '--nodes', node.url, '--port', '0', '--data', dataDir], env, true);
    children.push(gateway.child);
    await servedCard(gateway.url, apiKey, modelId);

    const tty = process.stderr.isTTY;
    let lastReport = 0;
    let last: BatchProgress | null = null;
    await runBatch(todo, {
      concurrency: options['max-sequences'],
      order: options.order,
      send: sender(gateway.url, apiKey),
      write: (l) => output.write(l),
      progress: (p) => {
        last = p;
        const now = performance.now();
        if (tty) process.stderr.write(`\r${progressLine(p, already)}`);
        else if (now - lastReport > 10_000 || p.done === p.total) process.stderr.write(`${progressLine(p, already)}\n`), (lastReport = now);
      },
    });
    if (tty) process.stderr.write('\n');
    const p = last as BatchProgress | null;
    const rate = p && p.elapsedSeconds > 0
      ? `: ${p.done} run in ${p.elapsedSeconds.toFixed(2)} s once the node was up, ${(p.done / p.elapsedSeconds).toFixed(1)} requests/s, ${(p.completionTokens / p.elapsedSeconds).toFixed(1)} completion tokens/s`
      : '';
    process.stderr.write(`sirocco batch: ${lines.length} lines in ${outPath}${rate}\n`);
    return 0;
  } finally {
    stopAll();
    await output.close();
    rmSync(dataDir, { recursive: true, force: true });
  }
}
