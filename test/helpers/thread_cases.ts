// The batch engine_threads.test.ts runs with different thread counts: four prompts, one longer
// than a chunk and one longer than two blocks of attention's keys (512 each), prefilled in chunks
// and decoded together; every logit of every step, in order.
import type { Engine } from '../../src/engine/engine.ts';
import { generateGreedy } from '../../src/engine/generate.ts';
import { prompt } from './check_reference.ts';

export async function threadCasesLogits(engine: Engine): Promise<Float32Array> {
  const V = engine.config.vocabSize;
  const cases = await generateGreedy(engine, [prompt(40, 1, V), prompt(9, 2, V), prompt(23, 3, V), prompt(1100, 4, V)], {
    steps: 6,
    chunk: 16,
    promptLogits: true,
  });
  const rows = cases.flatMap((c) => [...c.promptLogits, ...c.stepLogits]);
  const out = new Float32Array(rows.length * V);
  rows.forEach((r, i) => out.set(r, i * V));
  return out;
}
