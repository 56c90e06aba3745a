// Plans one engine step for the running requests (DESIGN.md §1: the scheduler plans
// {sequence → n_tokens}, the engine executes, the scheduler updates; it never sees tensors).
// Decoding sequences go first, one token each, so a long prompt never stalls them; prompts
// then prefill in chunks with what is left of the step's token budget.
export type Schedulable = {
  id: number;
  promptRemaining: number; // prompt tokens not yet in the cache; 0 = decoding
};

export type StepBudget = {
  maxTokens: number; // tokens per step, all sequences together
  maxSequences: number; // sequences per step
};

export type PlannedChunk = { id: number; tokens: number };

export function planStep(running: Schedulable[], budget: StepBudget): PlannedChunk[] {
  const plan: PlannedChunk[] = [];
  let tokens = 0;
  for (const r of running) {
    if (plan.length >= budget.maxSequences || tokens >= budget.maxTokens) break;
    if (r.promptRemaining === 0) {
      plan.push({ id: r.id, tokens: 1 });
      tokens += 1;
    }
  }
  for (const r of running) {
    if (plan.length >= budget.maxSequences || tokens >= budget.maxTokens) break;
    if (r.promptRemaining > 0) {
      const n = Math.min(r.promptRemaining, budget.maxTokens - tokens);
      plan.push({ id: r.id, tokens: n });
      tokens += n;
    }
  }
  return plan;
}
