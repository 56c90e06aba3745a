// Continuous batching: requests join the running batch at the next step and leave when
// they finish, abort or fail. Each loop: admit, plan (scheduler.ts), one engine step,
// sample and stream, release. Everything that touches the engine happens here, between
// steps, so sequences are never changed while a step runs.
// Batch-priority requests (Batch API lines) come after interactive ones: admitted only when
// no interactive request waits, and planned after them in every step. They may fill every
// sequence; an interactive request that finds none free takes one back from the batch line
// admitted last, which waits again at the front of the batch lines and, readmitted, prefills
// its prompt and tokens so far (recompute preemption, as vLLM's priority scheduling does).
import { GREEDY, KvCacheExhausted, type AheadDraw, type Engine } from '../engine/engine.ts';
import { nonFiniteLogitsError } from '../engine/finite_logits.ts';
import type { Tokenizer } from '../tokenizer/tokenizer.ts';
import { Generation, type FinishReason, type GenerationRequest } from './generation.ts';
import type { RowLogprobs, TokenDraw } from '../engine/native.ts';
import { planSample, sampledWith } from './sampler.ts';
import { planStep, type StepBudget } from './scheduler.ts';
import type { Lease, SessionStore } from './session_store.ts';

export type RunnerStats = { running: number; waiting: number; steps: number; generatedTokens: number; preemptions: number; drawsTakenAhead: number };

export class BatchRunner {
  private readonly waiting: Generation[] = [];
  private readonly running: Generation[] = [];
  private loop: Promise<void> | null = null;
  private steps = 0;
  private generatedTokens = 0;
  private preemptions = 0;
  private drawsTakenAhead = 0; // sampled tokens taken as the engine drew them for its step ahead
  // The last step had the engine run the next one ahead (StepOptions.ahead), drawing every
  // sequence's token itself. Ended requests' sequences are released once their positions of it
  // are taken back (Engine.takeBack, which never blocks this thread), and a waiting request is
  // admitted after the next step, which takes its rows: never at the cost of a step.
  private ranAhead = false;
  private readonly ended: { lease: Lease; cached: number[] }[] = [];

  constructor(
    private readonly engine: Engine,
    private readonly tokenizer: Tokenizer,
    private readonly sessions: SessionStore,
    private readonly budget: StepBudget,
  ) {}

  /** Told each request's time from submit to admission (seconds), for the queue-time metric. */
  onAdmitted: (queueSeconds: number) => void = () => {};

  // Queues a request; returns a handle whose abort() frees its slot at the next step.
  submit(request: GenerationRequest): { abort: () => void } {
    const g = new Generation(request, this.tokenizer, this.tokenizer.eosId);
    this.waiting.push(g);
    this.loop ??= this.run().finally(() => (this.loop = null));
    return { abort: () => (g.aborted = true) };
  }

  stats(): RunnerStats {
    return { running: this.running.length, waiting: this.waiting.length, steps: this.steps, generatedTokens: this.generatedTokens, preemptions: this.preemptions, drawsTakenAhead: this.drawsTakenAhead };
  }

  // Resolves when no request is waiting or running.
  async idle(): Promise<void> {
    while (this.loop) await this.loop;
  }

  private async run(): Promise<void> {
    for (;;) {
      await this.releaseEnded();
      if (this.waiting.length === 0 && this.running.length === 0) return;
      if (!this.ranAhead || this.running.length === 0) this.admit();
      this.dropAborted();
      if (this.running.length === 0) continue;
      await this.step();
    }
  }

  private async releaseEnded(): Promise<void> {
    if (this.ended.length === 0) return;
    const ended = this.ended.splice(0);
    if (this.ranAhead) await this.engine.takeBack(ended.map((e) => e.lease.seq));
    for (const { lease, cached } of ended) this.sessions.release(lease, cached);
  }

  // Whether the engine can take g's token from the step that feeds it n tokens as the node
  // would: its prompt done by then, and nothing reshaping the logits (rules, a grammar).
  private static engineDraws(g: Generation, n: number): boolean {
    return g.promptRemaining <= n && !g.rules.changesLogits && !(g.grammarActive && g.request.grammar);
  }

  // The engine's draw of g's token (AheadDraw), its uniform drawn now rather than after the step.
  private static aheadDraw(g: Generation): AheadDraw {
    const s = g.request.params.sampling;
    return s.temperature === 0 ? GREEDY : { temperature: s.temperature, topK: s.topK, topP: s.topP, minP: s.minP, u: g.drawAhead() };
  }

  // The next request to admit: the first interactive one waiting, else the first batch one.
  private nextWaiting(): Generation | undefined {
    const interactive = this.waiting.findIndex((g) => g.request.priority !== 'batch');
    return interactive >= 0 ? this.waiting.splice(interactive, 1)[0] : this.waiting.shift();
  }

  // Every sequence busy and an interactive request waiting: the batch lines admitted last give
  // theirs back, one for each such request (none if no batch line runs).
  private preemptForInteractive(): void {
    let wanted = this.waiting.filter((g) => g.request.priority !== 'batch' && !g.aborted).length - (this.budget.maxSequences - this.running.length);
    for (let i = this.running.length - 1; i >= 0 && wanted > 0; i--) {
      const g = this.running[i]!;
      if (g.request.priority !== 'batch') continue;
      this.running.splice(i, 1);
      this.sessions.release({ ...g.lease!, key: null }, []); // recomputed when it resumes
      g.preempted();
      this.waiting.unshift(g);
      this.preemptions++;
      wanted--;
    }
  }

  private admit(): void {
    this.preemptForInteractive();
    while (this.waiting.length > 0 && this.running.length < this.budget.maxSequences) {
      const g = this.nextWaiting();
      if (!g) break;
      if (g.aborted) {
        g.request.listener.onDone({ finishReason: 'abort', tail: '', usage: g.usage });
        continue;
      }
      const { tenant, sessionKey } = g.request;
      g.lease = this.sessions.acquire(tenant, sessionKey, g.prefix);
      g.fed = g.lease.reused;
      g.cached = g.prefix.slice(0, g.fed);
      this.running.push(g);
      if (g.reusedAtAdmission === null) {
        g.reusedAtAdmission = g.lease.reused;
        this.onAdmitted((performance.now() - g.submittedAt) / 1000);
      }
    }
  }

  private dropAborted(): void {
    for (const g of this.running.filter((r) => r.aborted)) this.finish(g, 'abort');
  }

  private finish(g: Generation, reason: FinishReason): void {
    this.running.splice(this.running.indexOf(g), 1);
    this.ended.push({ lease: g.lease!, cached: g.cached });
    g.request.listener.onDone({ finishReason: reason, tail: reason === 'abort' ? '' : g.tail(reason), usage: g.usage });
  }

  private fail(g: Generation, error: Error): void {
    this.running.splice(this.running.indexOf(g), 1);
    // The cache may hold a partial step: do not keep it warm.
    this.ended.push({ lease: { ...g.lease!, key: null }, cached: [] });
    g.request.listener.onError(error);
  }

  private async step(): Promise<void> {
    // Interactive first; then least recently scheduled first, so no sequence starves when the
    // batch is full.
    const rank = (g: Generation) => (g.request.priority === 'batch' ? 1 : 0);
    const order = [...this.running].sort((a, b) => rank(a) - rank(b) || a.lastScheduled - b.lastScheduled);
    const plan = planStep(order.map((g, id) => ({ id, promptRemaining: g.promptRemaining })), this.budget);
    const chosen = plan.map((p) => ({ g: order[p.id]!, n: p.tokens }));
    const inputs = chosen.map(({ g, n }) => ({
      sequence: g.lease!.seq,
      tokens: g.promptRemaining > 0 ? g.prefix.slice(g.fed, g.fed + n) : [g.generated.at(-1)!],
    }));
    // The engine can draw every sequence's next token, no request waits to join, and one
    // sequence at least goes on after this step's token (else the step ahead is work thrown
    // away, which the next request would wait for): it runs the next step ahead.
    const ahead =
      this.engine.runsAhead &&
      this.waiting.length === 0 &&
      chosen.length === this.running.length &&
      chosen.every(({ g, n }) => BatchRunner.engineDraws(g, n)) &&
      chosen.some(({ g }) => g.generated.length + 1 < g.request.params.maxTokens)
        ? chosen.map(({ g }) => BatchRunner.aheadDraw(g))
        : false;
    this.ranAhead = false;
    let rows, scans;
    try {
      // Every row is read before the next step: the engine's kept buffer spares a fresh one's
      // page faults (StepOptions.reuseLogits). The engine scans each row for its argmax and
      // any non-finite logit (RowScan) off this thread.
      ({ rows, scans } = await this.engine.stepScanned(inputs, { reuseLogits: true, ahead }));
      this.ranAhead = ahead !== false;
    } catch (err) {
      // Out of K/V memory: give back idle sessions and let the next loop retry; any other
      // error fails the requests of this step only.
      if (err instanceof KvCacheExhausted && this.sessions.evict(true) > 0) return;
      for (const { g } of chosen) this.fail(g, err as Error);
      return;
    }
    this.steps++;
    // Each row's token, or its draw: the engine draws a step's sampled tokens in one call,
    // on its idle threads (Engine.drawTokens), before any is accepted.
    const sampled: { g: Generation; logits: Float32Array; raw: Float32Array; token: number | TokenDraw; logprobs?: RowLogprobs }[] = [];
    for (const [i, { g }] of chosen.entries()) {
      g.lastScheduled = this.steps;
      g.cached.push(...inputs[i]!.tokens);
      if (g.promptRemaining > 0) {
        g.fed += inputs[i]!.tokens.length;
        if (g.promptRemaining > 0) continue; // more prompt to prefill
      }
      const raw = rows[i]![0]!;
      const scan = scans[i]![0]!;
      if (scan.firstNonFinite >= 0) {
        this.fail(g, nonFiniteLogitsError(inputs[i]!.tokens.at(-1)!));
        continue;
      }
      const grammar = g.grammarActive ? g.request.grammar : null;
      let logits = g.rules.apply(raw);
      if (grammar) {
        // Last, so no logit_bias re-enables a token the grammar forbids; on a copy, so the
        // logprobs still describe the model (raw).
        if (logits === raw) logits = Float32Array.from(raw);
        await grammar.fillNextTokenBitmask();
        grammar.applyMask(logits);
      }
      // A draw the engine made already, for the step it runs ahead (the same settings and
      // uniform: the same token), is not made twice.
      let token = planSample(logits, g.request.params.sampling, g.uniforms, raw, scan.argmax);
      if (typeof token !== 'number' && scan.fedAhead >= 0) {
        token = scan.fedAhead;
        this.drawsTakenAhead++;
      }
      sampled.push({ g, logits, raw, token });
    }
    const drawing = sampled.filter((r) => typeof r.token !== 'number');
    if (drawing.length > 0)
      this.engine.drawTokens(drawing.map((r) => r.logits), drawing.map((r) => r.token as TokenDraw)).forEach((token, i) => (drawing[i]!.token = token));
    // The rows whose requests ask for logprobs, in one call too (Engine.logprobsRows).
    const wanting = sampled.filter((r) => r.g.request.params.sampling.logprobs);
    if (wanting.length > 0)
      this.engine
        .logprobsRows(wanting.map((r) => r.raw), wanting.map((r) => r.g.request.params.sampling.topLogprobs))
        .forEach((lp, i) => (wanting[i]!.logprobs = lp));
    for (const { g, raw, token, logprobs } of sampled) {
      const s = sampledWith(token as number, g.request.params.sampling, raw, logprobs && (() => logprobs));
      this.generatedTokens++;
      const grammar = g.grammarActive ? g.request.grammar : null;
      if (grammar && !g.aborted && !grammar.accept(s.token)) {
        this.fail(g, new Error(`internal error: the grammar refused token ${s.token} that its own mask allowed`));
        continue;
      }
      const reason = g.aborted ? 'abort' : g.accept(s.token, s.logprob, s.top);
      if (reason) this.finish(g, reason);
    }
  }
}
