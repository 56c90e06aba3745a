// Weights that load but are not numbers (issue 11): `sirocco weights verify --finite` names the
// tensors holding NaN/Inf in every stored dtype; `sirocco node --check-finite` refuses them by
// name; without it, a node whose logits come out NaN refuses to turn ready, and a request whose
// logits turn NaN later (a bad row only some tokens reach) fails with an error instead of
// answering token 0 forever. Weights live in process memory by default, so truncating the
// model file under a running node cannot kill it (a mapping would take SIGBUS).
import { execFile } from 'node:child_process';
import { open, truncate } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, describe, expect, it } from 'vitest';
import { readSafetensorsHeader } from '../src/engine/safetensors.ts';
import { NODE_SECRET_HEADER } from '../src/protocol/internal_api.ts';
import { quantizeModel } from '../weights-tools/quantize.ts';
import { TempModels } from './helpers/models.ts';
import { NODE_SECRET, startSirocco } from './helpers/servers.ts';

const run = promisify(execFile);
const models = new TempModels();
afterAll(() => models.cleanup());

// Bit patterns with every exponent bit set, little-endian, as each dtype stores them.
const F16_NAN = [0x00, 0x7e];
const BF16_NAN = [0xc0, 0x7f];
const F32_INF = [0x00, 0x00, 0x80, 0x7f];

/** Overwrites element `element` (of a float tensor) or block `element / 32`'s scale (Q8_0/Q4_0). */
async function poke(dir: string, tensor: string, element: number, bytes: number[]): Promise<void> {
  const path = join(dir, 'model.safetensors');
  const t = (await readSafetensorsHeader(path)).find((x) => x.name === tensor)!;
  expect(t, tensor).toBeDefined();
  const at = t.dtype === 'Q8_0' ? (element / 32) * 34 : t.dtype === 'Q4_0' ? (element / 32) * 18 : element * bytes.length;
  const fh = await open(path, 'r+');
  await fh.write(Buffer.from(bytes), 0, bytes.length, t.offset + at);
  await fh.close();
}

async function verifyFinite(dir: string): Promise<{ code: number; stdout: string; stderr: string }> {
  return run(process.execPath, ['bin/sirocco.js', 'weights', 'verify', dir, '--finite', '--quiet']).then(
    (r) => ({ code: 0, ...r }),
    (e: { code: number; stdout: string; stderr: string }) => ({ code: e.code, stdout: e.stdout, stderr: e.stderr }),
  );
}

describe('sirocco weights verify --finite', () => {
  it.each([
    ['f16', F16_NAN],
    ['bf16', BF16_NAN],
    ['f32', F32_INF],
  ] as const)('names the %s tensor holding NaN/Inf and the first bad element', async (dtype, bad) => {
    const dir = await models.make({ preset: 'mistral-tiny', seed: 3, dtype });
    const clean = await verifyFinite(dir);
    expect(clean.code).toBe(0);
    expect(clean.stdout).toMatch(/no NaN or Inf/);
    await poke(dir, 'model.layers.1.mlp.down_proj.weight', 77, bad);
    await poke(dir, 'model.layers.1.mlp.down_proj.weight', 90, bad);
    const r = await verifyFinite(dir);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain("tensor 'model.layers.1.mlp.down_proj.weight': 2 NaN/Inf values (first at element 77)");
    expect(r.stderr.match(/tensor '/g)).toHaveLength(1);
  });

  it.each(['q8_0', 'q4_0'] as const)('finds an Inf scale in a %s block', async (to) => {
    const source = await models.make({ preset: 'mistral-tiny', seed: 4, dtype: 'f16' });
    const dir = join(models.root, `quantized-${to}`);
    await quantizeModel({ source, to, out: dir, quiet: true });
    expect((await verifyFinite(dir)).code).toBe(0);
    await poke(dir, 'model.layers.0.self_attn.q_proj.weight', 64, [0x00, 0x7c]); // block 2's scale: +Inf
    const r = await verifyFinite(dir);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain("tensor 'model.layers.0.self_attn.q_proj.weight': 1 NaN/Inf value (first at element 64)");
  });
});

describe('a node on non-finite weights', () => {
  it('--check-finite refuses the model, naming the tensor', async () => {
    const dir = await models.make({ preset: 'mistral-tiny', seed: 5, dtype: 'f16' });
    await poke(dir, 'model.layers.0.input_layernorm.weight', 3, F16_NAN);
    const err = await startSirocco(['node', '--model', dir, '--port', '0', '--check-finite']).then(
      () => 'started',
      (e: Error) => e.message,
    );
    expect(err).toContain("tensor 'model.layers.0.input_layernorm.weight': 1 NaN/Inf value (first at element 3)");
  });

  it('never turns ready when its logits are NaN, and says how to find the tensor', async () => {
    const dir = await models.make({ preset: 'mistral-tiny', seed: 6, dtype: 'f16' });
    await poke(dir, 'model.norm.weight', 0, F16_NAN);
    const err = await startSirocco(['node', '--model', dir, '--port', '0']).then(
      () => 'started',
      (e: Error) => e.message,
    );
    expect(err).toMatch(/non-finite logits/);
    expect(err).toContain('sirocco weights verify --finite');
  });

  it('fails a request whose logits turn NaN, stays up for the others, and survives its model file being truncated', async () => {
    const dir = await models.make({ preset: 'mistral-tiny', seed: 7, dtype: 'f16' });
    const hidden = (await readSafetensorsHeader(join(dir, 'model.safetensors'))).find((t) => t.name === 'model.embed_tokens.weight')!.shape[1]!;
    const POISONED = 300;
    await poke(dir, 'model.embed_tokens.weight', POISONED * hidden, F16_NAN); // only token 300's row
    const node = await startSirocco(['node', '--model', dir, '--port', '0', '--model-id', 'm']);
    try {
      const generate = async (prompt: number[]) => {
        const res = await fetch(`${node.url}/internal/v1/generate`, {
          method: 'POST',
          headers: { [NODE_SECRET_HEADER]: NODE_SECRET, 'content-type': 'application/json' },
          body: JSON.stringify({ request_id: `r${Math.random()}`, tenant: 't', session_key: null, prompt_tokens: prompt, max_tokens: 4, temperature: 0, top_p: 1, top_k: 0, seed: null, stop: [], logprobs: false, top_logprobs: 0 }),
        });
        return res.text();
      };
      const poisoned = await generate([1, 100, POISONED]);
      expect(poisoned).toContain('event: error');
      expect(poisoned).toMatch(/non-finite logits/);
      expect(poisoned).not.toContain('event: token');
      const fine = await generate([1, 100, 200]);
      expect(fine).toContain('event: done');
      await truncate(join(dir, 'model.safetensors'), 100); // under a mapping, the next step would fault
      expect(await generate([1, 100, 201])).toContain('event: done');
      expect(node.child.exitCode).toBeNull();
    } finally {
      await node.stop();
    }
  });
});
