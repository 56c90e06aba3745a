// The bench's models: .bench/models/PRESET-DTYPE, generated on first use (quantized ones from
// the f16 one), so every bench script times the same weights.
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { makeTiny } from '../weights-tools/make_tiny.ts';
import { quantizeModel } from '../weights-tools/quantize.ts';

export type BenchPreset = 'mixtral-mini' | 'mistral-mini';
export type BenchDtype = 'f16' | 'bf16' | 'f32' | 'q8_0' | 'q4_0';

export const benchModelDir = (preset: BenchPreset, dtype: BenchDtype) => join('.bench', 'models', `${preset}-${dtype}`);

export async function ensureBenchModel(preset: BenchPreset, dtype: BenchDtype, log: (s: string) => void): Promise<string> {
  const dir = benchModelDir(preset, dtype);
  if (existsSync(join(dir, 'config.json'))) return dir;
  const quantized = dtype === 'q8_0' || dtype === 'q4_0';
  const generated = quantized ? 'f16' : dtype;
  if (!existsSync(join(benchModelDir(preset, generated), 'config.json'))) {
    log(`generating ${preset} (${generated}) into ${benchModelDir(preset, generated)} …`);
    await makeTiny({ preset, dtype: generated, seed: 0, out: benchModelDir(preset, generated) });
  }
  if (quantized) await quantizeModel({ source: benchModelDir(preset, generated), to: dtype, out: dir });
  return dir;
}
