// One request's generation state: what is cached, what was sampled, and when it ends.
// Text comes out through an incremental detokenizer and a stop-sequence matcher, so every
// emitted piece is final (nothing is ever taken back).
import { StopMatcher } from '../tokenizer/stop_sequences.ts';
import { TextStream } from '../tokenizer/text_stream.ts';
import type { Tokenizer } from '../tokenizer/tokenizer.ts';
import { SeededRandom, type SamplingParams, type TokenLogprob } from './sampler.ts';
import type { Lease } from './session_store.ts';

export type GenerateParams = {
  maxTokens: number;
  sampling: SamplingParams;
  seed: number | null;
  stop: string[];
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
};

export class Generation {
  readonly random: SeededRandom;
  readonly generated: number[] = [];
  cached: number[] = []; // tokens now in the engine's cache for this sequence
  fed = 0; // prompt tokens in the cache
  lease: Lease | null = null;
  aborted = false;
  lastScheduled = 0;
  private readonly text: TextStream;
  private readonly stops: StopMatcher;
  private stoppedBySequence = false;

  constructor(
    readonly request: GenerationRequest,
    tokenizer: Tokenizer,
    private readonly eosId: number | null,
  ) {
    this.random = new SeededRandom(request.params.seed ?? Math.floor(Math.random() * 2 ** 48));
    this.text = new TextStream(tokenizer);
    this.stops = new StopMatcher(request.params.stop);
  }

  get promptRemaining(): number {
    return this.request.prompt.length - this.fed;
  }

  get usage(): Usage {
    return {
      promptTokens: this.request.prompt.length,
      cachedTokens: this.lease?.reused ?? 0,
      completionTokens: this.generated.length,
    };
  }

  // Records a sampled token; returns why generation ends, or null to go on.
  accept(token: number, logprob: number | null, top: TokenLogprob[]): FinishReason | null {
    this.generated.push(token);
    if (token === this.eosId) {
      this.request.listener.onToken({ token, text: '', logprob, top });
      return 'stop';
    }
    const { emit, stopped } = this.stops.push(this.text.push(token));
    this.request.listener.onToken({ token, text: emit, logprob, top });
    if (stopped) {
      this.stoppedBySequence = true;
      return 'stop';
    }
    return this.generated.length >= this.request.params.maxTokens ? 'length' : null;
  }

  // Text still held back when generation ends without a stop sequence.
  tail(reason: FinishReason): string {
    if (reason === 'stop' && this.stoppedBySequence) return '';
    const last = this.stops.push(this.text.flush());
    return last.stopped ? last.emit : last.emit + this.stops.flush();
  }
}
