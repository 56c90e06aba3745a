// Greedy generation for several prompts run as one batch: prompts prefill in chunks, and a
// sequence whose prompt is done decodes while others still prefill, so steps mix both.
import type { Engine } from './engine.ts';
import { argmax } from './greedy.ts';

export type GreedyCase = {
  promptTokens: number[];
  generated: number[];
  stepLogits: Float32Array[]; // stepLogits[k] is the vector whose argmax is generated[k]
  promptLogits: Float32Array[]; // after each prompt token (only when asked for)
};

export type GreedyOptions = { steps: number; chunk?: number; promptLogits?: boolean };

export async function generateGreedy(engine: Engine, prompts: number[][], options: GreedyOptions): Promise<GreedyCase[]> {
  const chunk = options.chunk ?? Infinity;
  const cases = prompts.map((p) => ({
    seq: engine.createSequence(),
    fed: 0,
    out: { promptTokens: p, generated: [], stepLogits: [], promptLogits: [] } as GreedyCase,
  }));
  try {
    for (;;) {
      const active = cases.filter((c) => c.out.generated.length < options.steps);
      if (active.length === 0) break;
      const inputs = active.map((c) => {
        const prompt = c.out.promptTokens;
        if (c.fed < prompt.length) {
          const tokens = prompt.slice(c.fed, c.fed + Math.min(chunk, prompt.length - c.fed));
          return { sequence: c.seq, tokens, allLogits: options.promptLogits === true };
        }
        return { sequence: c.seq, tokens: [c.out.generated.at(-1)!] };
      });
      const rows = await engine.step(inputs);
      active.forEach((c, i) => {
        const prefilling = c.fed < c.out.promptTokens.length;
        const mine = rows[i]!.map((r) => Float32Array.from(r));
        if (prefilling) {
          c.fed += inputs[i]!.tokens.length;
          if (options.promptLogits) c.out.promptLogits.push(...mine);
          if (c.fed < c.out.promptTokens.length) return;
        }
        const last = mine.at(-1)!;
        c.out.stepLogits.push(last);
        c.out.generated.push(argmax(last));
      });
    }
  } finally {
    for (const c of cases) engine.freeSequence(c.seq);
  }
  return cases.map((c) => c.out);
}
