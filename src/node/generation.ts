// One request's generation state: what is cached, what was sampled, and when it ends.
// Text comes out through an incremental detokenizer and a stop-sequence matcher, so every
// emitted piece is final (nothing is ever taken back).
import { StopMatcher } from '../tokenizer/stop_sequences.ts';
import { TextStream } from '../tokenizer/text_stream.ts';
import type { Priority } from '../protocol/internal_api.ts';
import type { Tokenizer } from '../tokenizer/tokenizer.ts';
import type { TokenMatcher } from './grammar/index.ts';
import { LogitRules, type LogitRuleParams } from './logit_rules.ts';
import { SeededRandom, type SamplingParams, type TokenLogprob, type Uniforms } from './sampler.ts';
import type { Lease } from './session_store.ts';

export type GenerateParams = {
  maxTokens: number;
  sampling: SamplingParams;
  seed: number | null;
  stop: string[];
  rules: LogitRuleParams;
  ignoreEos: boolean; // EOS is sampled like any token and does not end generation
  stopTokenIds: number[]; // sampling one ends generation ('stop'), as EOS does
};

export type FinishReason = 'stop' | 'length' | 'abort';
export type Usage = { promptTokens: number; cachedTokens: number; completionTokens: number };

export type TokenEvent = { token: number; text: string; logprob: number | null; top: TokenLogprob[] };

export interface GenerationListener {
  onToken(event: TokenEvent): void;
  // tail: text held back until the end (an incomplete stop-sequence prefix, partial UTF-8).
  onDone(result: { finishReason: FinishReason; tail: string; usage: Usage }): void;
  onError(error: Error): void;
}

export type GenerationRequest = {
  tenant: string;
  sessionKey: string | null;
  prompt: number[];
  params: GenerateParams;
  listener: GenerationListener;
  grammar?: TokenMatcher | null; // response_format: masks every token (src/node/grammar/)
  grammarTrigger?: number | null; // the grammar masks only the tokens after this one
  priority?: Priority; // default interactive
};

export class Generation {
  private readonly random: SeededRandom;
  // The sampler's uniforms: random's, but one drawn ahead (drawAhead) comes out first, so the
  // generator's order is the same either way.
  readonly uniforms: Uniforms = { next: () => this.takeDrawnAhead() ?? this.random.next() };
  private drawnAhead: number | null = null;
  readonly rules: LogitRules;
  readonly generated: number[] = [];
  cached: number[] = []; // tokens now in the engine's cache for this sequence
  /**
   * What the cache must hold before the next token is sampled: the prompt — or, after the
   * sequence was taken back for an interactive request (BatchRunner), the prompt and every
   * token generated so far, prefilled again when it resumes.
   */
  prefix: number[];
  fed = 0; // tokens of the prefix in the cache
  lease: Lease | null = null;
  /** Prompt tokens found in a warm session at the first admission (what usage reports). */
  reusedAtAdmission: number | null = null;
  aborted = false;
  lastScheduled = 0;
  /** performance.now() at submit: the queue time ends when the runner admits it. */
  readonly submittedAt = performance.now();
  /** The grammar masks this step's token: from the start, or once the trigger was sampled. */
  grammarActive: boolean;
  private readonly text: TextStream;
  private readonly stops: StopMatcher;
  private readonly stopTokens: ReadonlySet<number>;
  private stoppedBySequence = false;

  constructor(
    readonly request: GenerationRequest,
    private readonly tokenizer: Tokenizer,
    private readonly eosId: number | null,
  ) {
    const p = request.params;
    this.random = new SeededRandom(p.seed ?? Math.floor(Math.random() * 2 ** 48));
    this.stopTokens = new Set(p.stopTokenIds);
    // min_tokens holds back every token that would end generation: EOS and stop_token_ids.
    const ends = [...(eosId === null ? [] : [eosId]), ...p.stopTokenIds];
    this.rules = new LogitRules(p.rules, request.prompt, ends);
    this.text = new TextStream(tokenizer, { skipSpecialTokens: true });
    this.stops = new StopMatcher(request.params.stop);
    this.grammarActive = (request.grammarTrigger ?? null) === null;
    this.prefix = request.prompt;
  }

  // The uniform the next sampled token takes, drawn now: for the engine to draw that token
  // itself, running the next step ahead (BatchRunner).
  drawAhead(): number {
    this.drawnAhead ??= this.random.next();
    return this.drawnAhead;
  }

  private takeDrawnAhead(): number | null {
    const u = this.drawnAhead;
    this.drawnAhead = null;
    return u;
  }

  get promptRemaining(): number {
    return this.prefix.length - this.fed;
  }

  get usage(): Usage {
    return {
      promptTokens: this.request.prompt.length,
      cachedTokens: this.reusedAtAdmission ?? 0,
      completionTokens: this.generated.length,
    };
  }

  // Its sequence was given back: when admitted again, it prefills the prompt and what it has
  // generated, then samples on as if never stopped (logits do not depend on how tokens were
  // batched or chunked, so a greedy line gives the same tokens; its sampler keeps its state).
  preempted(): void {
    this.prefix = [...this.request.prompt, ...this.generated];
    this.fed = 0;
    this.cached = [];
    this.lease = null;
  }

  // Records a sampled token; returns why generation ends, or null to go on.
  accept(token: number, logprob: number | null, top: TokenLogprob[]): FinishReason | null {
    this.generated.push(token);
    this.rules.observe(token);
    if (token === this.request.grammarTrigger) this.grammarActive = true;
    const isEos = token === this.eosId;
    if (isEos && !this.request.params.ignoreEos) {
      this.request.listener.onToken({ token, text: '', logprob, top });
      return 'stop';
    }
    // Special tokens (an ignored EOS, [INST], [TOOL_CALLS] …) add no text, as with vLLM's
    // skip_special_tokens default; the gateway finds tool calls by token id. A stop token id
    // that is ordinary text keeps its text.
    const isStopToken = this.stopTokens.has(token);
    const { emit, stopped } = this.stops.push(this.text.push(token));
    this.request.listener.onToken({ token, text: emit, logprob, top });
    if (stopped) {
      this.stoppedBySequence = true;
      return 'stop';
    }
    if (isStopToken) return 'stop';
    return this.generated.length >= this.request.params.maxTokens ? 'length' : null;
  }

  // Text still held back when generation ends without a stop sequence.
  tail(reason: FinishReason): string {
    if (reason === 'stop' && this.stoppedBySequence) return '';
    const last = this.stops.push(this.text.flush());
    return last.stopped ? last.emit : last.emit + this.stops.flush();
  }
}
