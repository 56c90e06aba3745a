// OpenAI response objects for chat completions and legacy completions, streamed as chunks or
// whole. Both formats share the request's id, creation time and model.
import type { DoneEvent, TokenEvent } from '../protocol/internal_api.ts';
import type { Tokenizer } from '../tokenizer/tokenizer.ts';

export type OpenAIUsage = {
  prompt_tokens: number;
  completion_tokens: number;
  total_tokens: number;
  prompt_tokens_details: { cached_tokens: number };
};

export type ChoiceResult = { text: string; tokens: TokenEvent[]; finishReason: string };

type Chunk = Record<string, unknown>;

export interface ResponseFormat {
  start(index: number): Chunk[];
  token(index: number, t: TokenEvent): Chunk | null;
  finish(index: number, done: DoneEvent): Chunk[];
  usage(usage: OpenAIUsage): Chunk;
  body(choices: ChoiceResult[], usage: OpenAIUsage): Chunk;
  // Streams with named events (the Responses API): each chunk goes out as `event: <its type>`,
  // the stream ends with `end`'s chunks instead of the usage chunk and `data: [DONE]`, and a
  // failure mid-stream is `error`'s chunk.
  events?: {
    end(usage: OpenAIUsage): Chunk[];
    error(err: { message: string; code: string | null; param: string | null }): Chunk;
  };
}

// includeUsage: stream chunks carry "usage": null until the final usage chunk, as OpenAI's do.
// tokenIds: logprobs name tokens "token_id:123" (vLLM's return_tokens_as_token_ids).
export type FormatCommon = { id: string; created: number; model: string; tokenizer: Tokenizer; logprobs: boolean; tokenIds: boolean; includeUsage: boolean };
type Common = FormatCommon;

const text = (tok: Tokenizer, id: number) => Buffer.from(tok.tokenBytes(id)).toString('utf8');

const namer = (c: Common) => (id: number) => (c.tokenIds ? `token_id:${id}` : text(c.tokenizer, id));

function chatLogprob(c: Common, t: TokenEvent) {
  const name = namer(c);
  const entry = (id: number, logprob: number) => ({ token: name(id), logprob, bytes: c.tokenizer.tokenBytes(id) });
  return { ...entry(t.token, t.logprob ?? 0), top_logprobs: t.top.map((a) => entry(a.token, a.logprob)) };
}

export function chatFormat(c: Common): ResponseFormat {
  const head = { id: c.id, object: 'chat.completion.chunk', created: c.created, model: c.model, system_fingerprint: null, ...(c.includeUsage ? { usage: null } : {}) };
  const chunk = (index: number, delta: object, extra: object = {}) => ({
    ...head,
    choices: [{ index, delta, logprobs: null, finish_reason: null, ...extra }],
  });
  return {
    start: (index) => [chunk(index, { role: 'assistant', content: '' })],
    token: (index, t) => {
      if (t.text === '' && !c.logprobs) return null;
      return chunk(index, { content: t.text }, c.logprobs ? { logprobs: { content: [chatLogprob(c, t)] } } : {});
    },
    finish: (index, done) => [
      ...(done.tail ? [chunk(index, { content: done.tail })] : []),
      chunk(index, {}, { finish_reason: done.finish_reason }),
    ],
    usage: (usage) => ({ ...head, choices: [], usage }),
    body: (choices, usage) => ({
      id: c.id,
      object: 'chat.completion',
      created: c.created,
      model: c.model,
      system_fingerprint: null,
      choices: choices.map((ch, index) => ({
        index,
        message: { role: 'assistant', content: ch.text, refusal: null },
        logprobs: c.logprobs ? { content: ch.tokens.map((t) => chatLogprob(c, t)), refusal: null } : null,
        finish_reason: ch.finishReason,
      })),
      usage,
    }),
  };
}

// Legacy completions logprobs: parallel arrays, top alternatives as {token: logprob} maps.
function completionLogprobs(c: Common, tokens: TokenEvent[], startOffset: number) {
  const name = namer(c);
  let offset = startOffset;
  const text_offset: number[] = [];
  for (const t of tokens) {
    text_offset.push(offset);
    offset += text(c.tokenizer, t.token).length;
  }
  return {
    tokens: tokens.map((t) => name(t.token)),
    token_logprobs: tokens.map((t) => t.logprob),
    top_logprobs: tokens.map((t) => Object.fromEntries(t.top.map((a) => [name(a.token), a.logprob]))),
    text_offset,
  };
}

export function completionFormat(c: Common): ResponseFormat {
  const head = { id: c.id, object: 'text_completion', created: c.created, model: c.model, system_fingerprint: null, ...(c.includeUsage ? { usage: null } : {}) };
  const chunk = (index: number, text: string, extra: object = {}) => ({
    ...head,
    choices: [{ index, text, logprobs: null, finish_reason: null, ...extra }],
  });
  return {
    start: () => [],
    token: (index, t) => {
      if (t.text === '' && !c.logprobs) return null;
      return chunk(index, t.text, c.logprobs ? { logprobs: completionLogprobs(c, [t], 0) } : {});
    },
    finish: (index, done) => [chunk(index, done.tail, { finish_reason: done.finish_reason })],
    usage: (usage) => ({ ...head, choices: [], usage }),
    body: (choices, usage) => ({
      id: c.id,
      object: 'text_completion',
      created: c.created,
      model: c.model,
      system_fingerprint: null,
      choices: choices.map((ch, index) => ({
        index,
        text: ch.text,
        logprobs: c.logprobs ? completionLogprobs(c, ch.tokens, 0) : null,
        finish_reason: ch.finishReason,
      })),
      usage,
    }),
  };
}
