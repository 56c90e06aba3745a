// The sampling fields of a validated request, checked against the model and put in the
// node's terms: what zod cannot know (token ids within this model's vocabulary, min_tokens
// within max_tokens, seed and random_seed agreeing) is refused here, before any node works.
import type { GenerateBody } from '../protocol/internal_api.ts';
import { invalidRequest } from './openai_error.ts';
import type { ChatCompletionRequest, CompletionRequest } from './openai_requests.ts';

type Common = ChatCompletionRequest | CompletionRequest;

export type SamplingFields = Pick<
  GenerateBody,
  | 'temperature'
  | 'top_p'
  | 'top_k'
  | 'min_p'
  | 'presence_penalty'
  | 'frequency_penalty'
  | 'repetition_penalty'
  | 'logit_bias'
  | 'min_tokens'
  | 'ignore_eos'
  | 'stop_token_ids'
  | 'stop'
>;

function checkVocab(ids: number[], vocabSize: number, param: string): void {
  const bad = ids.find((t) => t >= vocabSize);
  if (bad !== undefined) throw invalidRequest(`token id ${bad} in ${param} is outside the vocabulary (size ${vocabSize})`, param);
}

// Mistral's `random_seed` is OpenAI's `seed`; both may be sent only if they agree.
export function seedOf(req: Common): number | null {
  if (req.seed != null && req.random_seed != null && req.seed !== req.random_seed)
    throw invalidRequest('seed and random_seed are the same setting: send one of them, or the same value in both', 'random_seed');
  return req.seed ?? req.random_seed ?? null;
}

export function samplingFields(req: Common, vocabSize: number, maxTokens: number): SamplingFields {
  const logitBias = Object.entries(req.logit_bias ?? {}).map(([id, bias]): [number, number] => [Number(id), bias]);
  checkVocab(
    logitBias.map(([id]) => id),
    vocabSize,
    'logit_bias',
  );
  const stopTokenIds = req.stop_token_ids ?? [];
  checkVocab(stopTokenIds, vocabSize, 'stop_token_ids');
  const minTokens = req.min_tokens ?? 0;
  if (minTokens > maxTokens) throw invalidRequest(`min_tokens (${minTokens}) must not exceed max_tokens (${maxTokens})`, 'min_tokens');
  return {
    temperature: req.temperature ?? 1,
    top_p: req.top_p ?? 1,
    top_k: req.top_k == null || req.top_k < 0 ? 0 : req.top_k,
    min_p: req.min_p ?? 0,
    presence_penalty: req.presence_penalty ?? 0,
    frequency_penalty: req.frequency_penalty ?? 0,
    repetition_penalty: req.repetition_penalty ?? 1,
    logit_bias: logitBias,
    min_tokens: minTokens,
    ignore_eos: req.ignore_eos ?? false,
    stop_token_ids: stopTokenIds,
    stop: req.stop == null ? [] : typeof req.stop === 'string' ? [req.stop] : req.stop,
  };
}
