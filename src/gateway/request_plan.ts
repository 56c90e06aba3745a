// Turns a validated OpenAI request into what the nodes run: prompt tokens (chat template or
// raw prompt), token limits checked against the context, sampling parameters per choice, and
// the session key that routes it (DESIGN.md §1).
import { createHash } from 'node:crypto';
import type { GenerateBody, Priority } from '../protocol/internal_api.ts';
import { ChatTemplateError, type ChatMessage } from '../tokenizer/tokenizer.ts';
import { TokenizerBusy } from '../tokenizer/tokenizer_workers.ts';
import { chatHistory } from './chat_history.ts';
import { invalidRequest, OpenAIError } from './openai_error.ts';
import type { ChatCompletionRequest, CompletionRequest } from './openai_requests.ts';
import type { ServedModel } from './node_pool.ts';
import { samplingFields, seedOf } from './sampling_plan.ts';
import { structuredOutput } from './structured_output.ts';
import { planTools, type ToolCallMode, type ToolPlan } from './tool_calling.ts';

// Mistral's documented guardrail prompt, which its API prepends when `safe_prompt` is true
// (docs.mistral.ai, "Guardrailing").
export const MISTRAL_SAFE_PROMPT =
  'Always assist with care, respect, and truth. Respond with utmost utility yet securely. Avoid harmful, unethical, ' +
  'prejudiced, or negative content. Ensure replies promote fairness and positivity.';

// Who asks: the request, its key (tenant), its x-session-id, and its priority (batch_worker.ts).
export type RequestIds = { requestId: string; tenant: string; sessionHeader: string | undefined; priority: Priority };

export type RequestPlan = {
  promptTokens: number[];
  maxTokens: number;
  n: number;
  stream: boolean;
  includeUsage: boolean;
  logprobs: boolean;
  tokenIdsInLogprobs: boolean; // vLLM's return_tokens_as_token_ids
  toolCalls: ToolCallMode | null; // where the output's tool calls are (tool_calling.ts)
  sessionKey: string;
  bodies: GenerateBody[]; // one per choice
};

type Common = ChatCompletionRequest | CompletionRequest;

function sessionKeyOf(header: string | undefined, user: string | null | undefined, seed: string): string {
  if (header) return `h:${header}`;
  if (user) return `u:${user}`;
  return `c:${createHash('sha256').update(seed).digest('hex').slice(0, 32)}`;
}

function plan(
  req: Common,
  model: ServedModel,
  promptTokens: number[],
  requestedMax: number | null | undefined,
  logprobs: { on: boolean; top: number },
  ids: { requestId: string; tenant: string; sessionKey: string; priority: Priority },
  responseFormat: unknown = null,
  tools: ToolPlan | null = null,
): RequestPlan {
  const context = model.info.max_context;
  const prompt = promptTokens.length;
  if (prompt >= context)
    throw invalidRequest(
      `This model's maximum context length is ${context} tokens. However, your prompt has ${prompt} tokens.`,
      'messages' in req ? 'messages' : 'prompt',
      'context_length_exceeded',
    );
  const maxTokens = requestedMax ?? context - prompt;
  if (prompt + maxTokens > context)
    throw invalidRequest(
      `This model's maximum context length is ${context} tokens. However, you requested ${prompt + maxTokens} tokens ` +
        `(${prompt} in the prompt, ${maxTokens} for the completion). Please reduce the prompt or the completion length.`,
      'max_tokens',
      'context_length_exceeded',
    );
  const n = req.n ?? 1;
  const sampling = samplingFields(req, model.info.vocab_size, maxTokens);
  const seed = seedOf(req);
  let response_format = structuredOutput(responseFormat, { ignoreEos: sampling.ignore_eos, minTokens: sampling.min_tokens });
  if (tools?.responseFormat) {
    // One grammar per request: the calls' (the text's grammar would fight the tools).
    if (response_format !== null) throw invalidRequest("response_format cannot be combined with tools unless tool_choice is 'none'", 'response_format');
    response_format = tools.responseFormat;
  }
  for (const banned of tools?.banned ?? []) sampling.logit_bias = [...sampling.logit_bias.filter(([id]) => id !== banned), [banned, -100]];
  const bodies = Array.from({ length: n }, (_, i): GenerateBody => ({
    request_id: n === 1 ? ids.requestId : `${ids.requestId}.${i}`,
    tenant: ids.tenant,
    session_key: ids.sessionKey,
    priority: ids.priority,
    prompt_tokens: promptTokens,
    max_tokens: maxTokens,
    ...sampling,
    // Choices of one seeded request differ from each other but repeat across requests.
    seed: seed == null ? null : seed + i,
    logprobs: logprobs.on,
    top_logprobs: logprobs.top,
    response_format,
    grammar_trigger_token: tools?.grammarTrigger ?? null,
  }));
  return {
    promptTokens,
    maxTokens,
    n,
    stream: req.stream ?? false,
    includeUsage: req.stream_options?.include_usage ?? false,
    logprobs: logprobs.on,
    tokenIdsInLogprobs: req.return_tokens_as_token_ids ?? false,
    toolCalls: tools?.mode ?? null,
    sessionKey: ids.sessionKey,
    bodies,
  };
}

// safe_prompt: the guardrail goes first in the system prompt (a new one if there is none),
// so it applies whatever the chat template does with system messages.
function withSafePrompt(messages: ChatMessage[], on: boolean): ChatMessage[] {
  if (!on) return messages;
  const [first, ...rest] = messages;
  if (first?.role === 'system') return [{ ...first, content: `${MISTRAL_SAFE_PROMPT}\n\n${first.content}` }, ...rest];
  return [{ role: 'system', content: MISTRAL_SAFE_PROMPT }, ...messages];
}

type ChatPromptFields = Pick<ChatCompletionRequest, 'model' | 'messages' | 'tools' | 'tool_choice' | 'parallel_tool_calls' | 'safe_prompt'>;

/** A chat's prompt tokens exactly as billed (tools and a forced [TOOL_CALLS] included); /tokenize counts with it too. */
// Admission before work: a text that cannot fit the context even at the most characters per
// token is refused without tokenizing it (a 2 MB prompt costs a length check, not seconds of
// the event loop).
function refuseUntokenizable(chars: number, model: ServedModel, param: string): void {
  const context = model.info.max_context;
  if (chars > context * model.tokenizer.maxTokenChars)
    throw invalidRequest(
      `This model's maximum context length is ${context} tokens. However, your prompt has more than ${Math.floor(chars / model.tokenizer.maxTokenChars)} tokens (${chars} characters).`,
      param,
      'context_length_exceeded',
    );
}

export async function chatPromptOf(req: ChatPromptFields, model: ServedModel): Promise<{ messages: ChatMessage[]; tools: ToolPlan; promptTokens: number[] }> {
  const messages = withSafePrompt(chatHistory(req.messages), req.safe_prompt ?? false);
  refuseUntokenizable(messages.reduce((n, m) => n + m.content.length, 0), model, 'messages');
  const tools = planTools(req, messages, model.tokenizer, req.model);
  try {
    return { messages, tools, promptTokens: [...(await model.tokenizer.chatPromptAsync(messages, tools.tools)), ...tools.promptSuffix] };
  } catch (err) {
    if (err instanceof ChatTemplateError) throw invalidRequest(err.message, 'messages');
    throw overloaded(err);
  }
}

/** A text prompt's ids (off the event loop when long; see Tokenizer.encodeAsync). */
export async function textPromptOf(text: string, model: ServedModel, param: string, addSpecialTokens = true): Promise<number[]> {
  refuseUntokenizable(text.length, model, param);
  return model.tokenizer.encodeAsync(text, { addSpecialTokens }).catch((err: unknown) => {
    throw overloaded(err);
  });
}

// Too many long prompts already wait for a tokenizer thread: shed this one (503, retry soon).
function overloaded(err: unknown): unknown {
  if (!(err instanceof TokenizerBusy)) return err;
  return new OpenAIError(503, `The server is tokenizing too many long prompts right now: ${err.message}. Retry shortly.`, 'server_error', null, 'server_overloaded', { 'retry-after': '1' });
}

export async function planChat(
  req: ChatCompletionRequest,
  model: ServedModel,
  ids: RequestIds,
): Promise<RequestPlan> {
  if (req.top_logprobs != null && !req.logprobs) throw invalidRequest('top_logprobs requires logprobs: true', 'top_logprobs');
  const { messages, tools, promptTokens } = await chatPromptOf(req, model);
  const system = messages.find((m) => m.role === 'system')?.content ?? '';
  const firstUser = messages.find((m) => m.role === 'user')?.content ?? '';
  const sessionKey = sessionKeyOf(ids.sessionHeader, req.user, `${system}\u0000${firstUser}`);
  return plan(
    req,
    model,
    promptTokens,
    req.max_completion_tokens ?? req.max_tokens,
    { on: req.logprobs ?? false, top: req.top_logprobs ?? 0 },
    { ...ids, sessionKey },
    req.response_format,
    tools,
  );
}

export async function planCompletion(
  req: CompletionRequest,
  model: ServedModel,
  ids: RequestIds,
): Promise<RequestPlan> {
  const prompt = Array.isArray(req.prompt) && typeof req.prompt[0] === 'string' ? (req.prompt[0] as string) : req.prompt;
  let promptTokens: number[];
  if (typeof prompt === 'string') {
    promptTokens = await textPromptOf(prompt, model, 'prompt');
  } else {
    promptTokens = prompt as number[];
    const bad = promptTokens.find((t) => t >= model.info.vocab_size);
    if (bad !== undefined) throw invalidRequest(`token id ${bad} is outside the vocabulary (size ${model.info.vocab_size})`, 'prompt');
  }
  if (promptTokens.length === 0) throw invalidRequest('prompt must not be empty', 'prompt');
  const sessionKey = sessionKeyOf(ids.sessionHeader, req.user, typeof prompt === 'string' ? prompt.slice(0, 512) : prompt.slice(0, 128).join(','));
  // Legacy completions default to 16 tokens, as OpenAI's API does.
  return plan(req, model, promptTokens, req.max_tokens ?? 16, { on: req.logprobs != null, top: req.logprobs ?? 0 }, { ...ids, sessionKey });
}
