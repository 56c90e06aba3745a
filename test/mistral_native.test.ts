// Mistral's own checkpoint layout (params.json + consolidated.safetensors, interleaved RoPE
// pairs) loads directly and gives the logits of the same model in Hugging Face layout.
import { afterAll, describe, expect, it } from 'vitest';
import { join } from 'node:path';
import { Engine } from '../src/engine/engine.ts';
import { generateGreedy } from '../src/engine/generate.ts';
import { relativeError } from './reference/forward64.ts';
import { prompt } from './helpers/check_reference.ts';
import { TempModels } from './helpers/models.ts';
import { toMistralNative } from './helpers/to_mistral_native.ts';

const models = new TempModels();
afterAll(() => models.cleanup());

describe('Mistral native layout', () => {
  it.each([
    { preset: 'mistral-tiny', tie: false },
    { preset: 'mixtral-tiny', tie: false },
  ] as const)('$preset: same greedy tokens and logits as the HF layout', async ({ preset }) => {
    const hf = await models.make({ preset, seed: 12, dtype: 'bf16' });
    const native = join(models.root, `${preset}-native`);
    await toMistralNative(hf, native);
    const run = async (dir: string) => {
      const engine = await Engine.load(dir, { kvDtype: 'f32' }); // the layouts agree to ~1e-7; f16 K/V rounding would blur that
      try {
        expect(engine.config.ropeLayout).toBe(dir === native ? 'interleaved' : 'half');
        return await generateGreedy(engine, [prompt(30, 1, 512), prompt(5, 2, 512)], { steps: 5, chunk: 7, promptLogits: true });
      } finally {
        await engine.close();
      }
    };
    const [a, b] = [await run(hf), await run(native)];
    for (let i = 0; i < a.length; i++) {
      expect(b[i]!.generated).toEqual(a[i]!.generated);
      [...a[i]!.promptLogits, ...a[i]!.stepLogits].forEach((v, k) =>
        expect(relativeError([...b[i]!.promptLogits, ...b[i]!.stepLogits][k]!, v)).toBeLessThan(1e-5),
      );
    }
  });

  it('a tokenizer.model.v1 directory gets the built-in Mistral v1 tokenizer', async () => {
    const { mkdtempSync, writeFileSync } = await import('node:fs');
    const { tmpdir } = await import('node:os');
    const { Tokenizer } = await import('../src/tokenizer/tokenizer.ts');
    const dir = mkdtempSync(join(tmpdir(), 'sirocco-v1-'));
    writeFileSync(join(dir, 'tokenizer.model.v1'), 'sentencepiece model bytes (not read)');
    const tok = await Tokenizer.load(dir);
    expect(tok.encode('Hello world!', { addSpecialTokens: true })).toEqual([1, 22557, 1526, 28808]);
    writeFileSync(join(dir, 'tekken.json'), '{}');
    const { rmSync } = await import('node:fs');
    rmSync(join(dir, 'tokenizer.model.v1'));
    await expect(Tokenizer.load(dir)).rejects.toThrow(/tekken\.json: the tekken tokenizer format is not supported yet/);
    rmSync(dir, { recursive: true });
  });

  it('refuses a params.json without consolidated.safetensors', async () => {
    const hf = await models.make({ preset: 'mistral-tiny', seed: 1 });
    const native = join(models.root, 'broken-native');
    await toMistralNative(hf, native);
    const { rmSync } = await import('node:fs');
    rmSync(join(native, 'consolidated.safetensors'));
    await expect(Engine.load(native)).rejects.toThrow(/params\.json found but no consolidated\.safetensors/);
  });
});
