// `sirocco logits` as a user runs it: a child process, JSON on stdout, exit codes.
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { argmaxLowest } from './reference/forward64.ts';
import { expectCaseMatchesReference, prompt, TOLERANCE } from './helpers/check_reference.ts';
import { TempModels } from './helpers/models.ts';
import { z } from 'zod';

const run = promisify(execFile);
const models = new TempModels();
let dir: string;
beforeAll(async () => {
  dir = await models.make({ preset: 'mixtral-tiny', seed: 31, dtype: 'bf16' });
});
afterAll(() => models.cleanup());

const Output = z.strictObject({
  compute_dtype: z.literal('f32'),
  cases: z.array(
    z.strictObject({
      prompt_tokens: z.array(z.number().int()),
      generated: z.array(z.number().int()),
      logits_last: z.array(z.number()),
      step_logits: z.array(z.array(z.number())),
      prompt_logits: z.array(z.array(z.number())).optional(),
    }),
  ),
});

async function sirocco(args: string[], env: NodeJS.ProcessEnv = {}) {
  try {
    const { stdout, stderr } = await run('node', ['bin/sirocco.js', ...args], { env: { ...process.env, ...env }, maxBuffer: 1 << 28 });
    return { code: 0, stdout, stderr };
  } catch (err) {
    const e = err as { code: number; stdout: string; stderr: string };
    return { code: e.code, stdout: e.stdout, stderr: e.stderr };
  }
}

describe('sirocco logits', () => {
  const p1 = prompt(30, 1, 512);
  const p2 = prompt(5, 2, 512);

  it.each([{ isa: 'default', env: {} }, { isa: 'scalar', env: { SIROCCO_ISA: 'scalar' } }])(
    'prints the contract JSON and matches the reference ($isa kernels)',
    async ({ env }) => {
      const args = ['logits', '--model', dir, '--prompt', p1.join(','), '--prompt', p2.join(','), '--steps', '4', '--chunk', '5', '--prompt-logits'];
      const { code, stdout, stderr } = await sirocco(args, env);
      expect(stderr).toBe('');
      expect(code).toBe(0);
      const out = Output.parse(JSON.parse(stdout));
      expect(out.cases.map((c) => c.prompt_tokens)).toEqual([p1, p2]);
      for (const c of out.cases) {
        expect(c.step_logits).toHaveLength(4);
        expect(c.step_logits[0]).toEqual(c.logits_last);
        expect(c.prompt_logits!.at(-1)).toEqual(c.logits_last);
        c.step_logits.forEach((v, k) => expect(argmaxLowest(v)).toBe(c.generated[k]));
        expectCaseMatchesReference(
          dir,
          {
            promptTokens: c.prompt_tokens,
            generated: c.generated,
            stepLogits: c.step_logits.map((v) => Float32Array.from(v)),
            promptLogits: c.prompt_logits!.map((v) => Float32Array.from(v)),
          },
          TOLERANCE.bf16,
        );
      }
    },
  );

  // Issue 8's "done when": --tp 2 and --tp 4 on the tiny presets give tp=1's greedy tokens, with
  // logits within the reference tolerance (the default f16 K/V included).
  it.each(['mistral-tiny', 'mixtral-tiny'] as const)('--tp 2 and --tp 4 on %s give tp=1\'s greedy tokens', async (preset) => {
    const model = await models.make({ preset, seed: 32 });
    const cases = async (tp: number) => {
      const { code, stdout, stderr } = await sirocco(['logits', '--model', model, '--prompt', p1.join(','), '--prompt', p2.join(','), '--steps', '6', '--chunk', '7', '--tp', String(tp)]);
      expect(stderr).toBe('');
      expect(code).toBe(0);
      return Output.parse(JSON.parse(stdout)).cases;
    };
    const single = await cases(1);
    for (const tp of [2, 4]) {
      const sharded = await cases(tp);
      sharded.forEach((c, i) => {
        expect(c.generated).toEqual(single[i]!.generated);
        expectCaseMatchesReference(
          model,
          { promptTokens: c.prompt_tokens, generated: c.generated, stepLogits: c.step_logits.map((v) => Float32Array.from(v)), promptLogits: [] },
          TOLERANCE.f32,
        );
      });
    }
  });

  // Issue 13: the WASM build gives the native backend's greedy tokens, its logits within the
  // reference tolerance (the default f16 K/V), on both kernel tables it has.
  it.each(['mistral-tiny', 'mixtral-tiny'] as const)('--backend wasm on %s gives the native greedy tokens', async (preset) => {
    const model = await models.make({ preset, seed: 33, dtype: 'f16' });
    const cases = async (...extra: string[]) => {
      const args = ['logits', '--model', model, '--prompt', p1.join(','), '--prompt', p2.join(','), '--steps', '6', '--chunk', '7', ...extra];
      const { code, stdout, stderr } = await sirocco(args);
      expect(stderr).toBe('');
      expect(code).toBe(0);
      return Output.parse(JSON.parse(stdout)).cases;
    };
    const native = await cases();
    for (const isa of ['scalar', 'wasm_simd128']) {
      const wasm = await cases('--backend', 'wasm', '--isa', isa);
      wasm.forEach((c, i) => {
        expect(c.generated, isa).toEqual(native[i]!.generated);
        expectCaseMatchesReference(
          model,
          { promptTokens: c.prompt_tokens, generated: c.generated, stepLogits: c.step_logits.map((v) => Float32Array.from(v)), promptLogits: [] },
          TOLERANCE.f16,
        );
      });
    }
  });

  it('without --prompt-logits prints no prompt_logits and the same greedy tokens', async () => {
    const { code, stdout } = await sirocco(['logits', '--model', dir, '--prompt', p1.join(','), '--steps', '3']);
    expect(code).toBe(0);
    const [c] = Output.parse(JSON.parse(stdout)).cases;
    expect(c!.prompt_logits).toBeUndefined();
    expect(c!.generated).toHaveLength(3);
  });

  it.each([
    { args: ['--prompt', '1,2'], error: /--model DIR is required/ },
    { args: ['--model', 'DIR'], error: /at least one --prompt is required/ },
    { args: ['--model', 'DIR', '--prompt', '1,a'], error: /comma-separated token ids/ },
    { args: ['--model', 'DIR', '--prompt', '1', '--steps', '0'], error: /--steps expects a positive integer/ },
    { args: ['--model', 'DIR', '--prompt', '1', '--tp', '3'], error: /--tp 3 does not divide num_key_value_heads 4: attention splits by KV-head groups \(possible: 1, 2, 4\)/ },
    { args: ['--model', 'DIR', '--prompt', '1', '--backend', 'wasm', '--tp', '2'], error: /--backend wasm runs one shard: drop --tp/ },
    { args: ['--model', 'DIR', '--prompt', '1', '--backend', 'wasm', '--isa', 'avx2'], error: /unknown ISA 'avx2': this build has scalar, wasm_simd128/ },
    { args: ['--model', 'DIR', '--prompt', '1', '--backend', 'gpu'], error: /--backend: Invalid option: expected one of "native"\|"wasm"/ },
    { args: ['--model', 'DIR', '--prompt', '1', '--bogus'], error: /Unknown option '--bogus'/ },
    { args: ['--model', 'DIR', '--prompt', '1,512'], error: /token id 512 is outside the model's vocabulary \[0, 512\)/ },
    { args: ['--model', '/nonexistent/model', '--prompt', '1'], error: /config\.json: not found/ },
  ])('refuses $args with exit 1 and a clear message', async ({ args, error }) => {
    const { code, stdout, stderr } = await sirocco(['logits', ...args.map((a) => (a === 'DIR' ? dir : a))]);
    expect(code).toBe(1);
    expect(stdout).toBe('');
    expect(stderr).toMatch(error);
  });
});
