// OpenAI response objects for chat completions and legacy completions, streamed as chunks or
// whole. Both formats share the request's id, creation time and model.
import type { DoneEvent, TokenEvent } from '../protocol/internal_api.ts';
import type { Tokenizer } from '../tokenizer/tokenizer.ts';
import { readOutput, ToolCallReader, type ToolCallOut } from './tool_call_reader.ts';
import type { ToolCallMode } from './tool_calling.ts';

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
  token(index: number, t: TokenEvent): Chunk[];
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
// Without it, a one-choice chat stream's finish chunk carries the usage, as Mistral's API
// always does (its SDK reads it there; OpenAI's clients ignore it).
// tokenIds: logprobs name tokens "token_id:123" (vLLM's return_tokens_as_token_ids).
// toolCalls: how to find tool calls in the output (tool_calling.ts); null = text only.
export type FormatCommon = {
  id: string;
  created: number;
  model: string;
  tokenizer: Tokenizer;
  logprobs: boolean;
  tokenIds: boolean;
  includeUsage: boolean;
  usageOnFinish: boolean;
  toolCalls: ToolCallMode | null;
};
type Common = FormatCommon;

const text = (tok: Tokenizer, id: number) => Buffer.from(tok.tokenBytes(id)).toString('utf8');

const namer = (c: Common) => (id: number) => (c.tokenIds ? `token_id:${id}` : text(c.tokenizer, id));

function chatLogprob(c: Common, t: TokenEvent) {
  const name = namer(c);
  const entry = (id: number, logprob: number) => ({ token: name(id), logprob, bytes: c.tokenizer.tokenBytes(id) });
  return { ...entry(t.token, t.logprob ?? 0), top_logprobs: t.top.map((a) => entry(a.token, a.logprob)) };
}

// A choice's whole output read as content and tool calls; finish_reason 'tool_calls' when the
// model called tools and stopped by itself.
function readChoice(mode: ToolCallMode | null, ch: ChoiceResult): { content: string; calls: ToolCallOut[]; finishReason: string } {
  const read = readOutput(new ToolCallReader(mode), ch.tokens, ch.text);
  return { content: read.content, calls: read.calls, finishReason: read.called && ch.finishReason === 'stop' ? 'tool_calls' : ch.finishReason };
}

const toolCallDeltas = (calls: ToolCallOut[], first: number) => calls.map((call, k) => ({ index: first + k, ...call }));

export function chatFormat(c: Common): ResponseFormat {
  const head = { id: c.id, object: 'chat.completion.chunk', created: c.created, model: c.model, system_fingerprint: null, ...(c.includeUsage ? { usage: null } : {}) };
  const chunk = (index: number, delta: object, extra: object = {}) => ({
    ...head,
    choices: [{ index, delta, logprobs: null, finish_reason: null, ...extra }],
  });
  const readers = new Map<number, ToolCallReader>();
  const readerOf = (index: number) => readers.get(index) ?? readers.set(index, new ToolCallReader(c.toolCalls)).get(index)!;
  // The delta of some content and newly completed calls; null when there is nothing to send.
  const delta = (index: number, read: { content: string; calls: ToolCallOut[] }) => {
    const reader = readerOf(index);
    return {
      ...(read.content ? { content: read.content } : {}),
      ...(read.calls.length > 0 ? { tool_calls: toolCallDeltas(read.calls, reader.calls.length - read.calls.length) } : {}),
    };
  };
  return {
    start: (index) => [chunk(index, { role: 'assistant', content: '' })],
    token: (index, t) => {
      const d = delta(index, readerOf(index).push(t.token, t.text));
      if (Object.keys(d).length === 0 && !c.logprobs) return [];
      return [chunk(index, d, c.logprobs ? { logprobs: { content: [chatLogprob(c, t)] } } : {})];
    },
    finish: (index, done) => {
      const end = readerOf(index).finish(done.tail);
      const d = delta(index, end);
      const u = done.usage;
      const usage = c.usageOnFinish ? { usage: { prompt_tokens: u.prompt_tokens, completion_tokens: u.completion_tokens, total_tokens: u.prompt_tokens + u.completion_tokens } } : {};
      const reason = end.called && done.finish_reason === 'stop' ? 'tool_calls' : done.finish_reason;
      return [...(Object.keys(d).length > 0 ? [chunk(index, d)] : []), { ...chunk(index, {}, { finish_reason: reason }), ...usage }];
    },
    usage: (usage) => ({ ...head, choices: [], usage }),
    body: (choices, usage) => ({
      id: c.id,
      object: 'chat.completion',
      created: c.created,
      model: c.model,
      system_fingerprint: null,
      choices: choices.map((ch, index) => {
        const read = readChoice(c.toolCalls, ch);
        const calls = read.calls.length > 0 ? { tool_calls: read.calls } : {};
        return {
          index,
          message: { role: 'assistant', content: read.calls.length > 0 && read.content === '' ? null : read.content, refusal: null, ...calls },
          logprobs: c.logprobs ? { content: ch.tokens.map((t) => chatLogprob(c, t)), refusal: null } : null,
          finish_reason: read.finishReason,
        };
      }),
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
      if (t.text === '' && !c.logprobs) return [];
      return [chunk(index, t.text, c.logprobs ? { logprobs: completionLogprobs(c, [t], 0) } : {})];
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
