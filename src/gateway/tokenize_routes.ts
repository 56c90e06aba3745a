// POST /tokenize and /detokenize, as vLLM serves them: a model's tokenizer without generating,
// so clients can count tokens (a prompt, or chat messages with tools as the chat route renders
// and bills them) and turn ids back into text. Authenticated like every other route.
import { Hono } from 'hono';
import { z } from 'zod';
import type { GatewayDeps } from './gateway_deps.ts';
import type { KeyRecord } from './keys/key_store.ts';
import { invalidRequest } from './openai_error.ts';
import { ChatRequestMessage, FunctionTool, ToolChoice } from './openai_requests.ts';
import { chatPromptOf, textPromptOf } from './request_plan.ts';
import { parseJson, validate } from './request_validation.ts';
import { servedModel } from './served_model.ts';

const TokenizeRequest = z.strictObject({
  model: z.string().min(1),
  prompt: z.string().optional(),
  messages: z.array(ChatRequestMessage).min(1).optional(),
  tools: z.array(FunctionTool).nullish(),
  tool_choice: ToolChoice.nullish(),
  safe_prompt: z.boolean().nullish(),
  add_special_tokens: z.boolean().optional(),
});

const DetokenizeRequest = z.strictObject({
  model: z.string().min(1),
  tokens: z.array(z.number().int().nonnegative()).max(1_000_000),
});

type Env = { Variables: { key: KeyRecord } };

export function tokenizeRoutes(deps: GatewayDeps): Hono<Env> {
  const app = new Hono<Env>();
  const served = (id: string) => servedModel(deps.pool, id);
  const strict = { strict: true, onIgnored: () => {} };

  app.post('/tokenize', async (c) => {
    const req = validate(TokenizeRequest, parseJson(await c.req.text()), strict);
    if ((req.prompt === undefined) === (req.messages === undefined)) throw invalidRequest('send exactly one of prompt and messages', 'prompt');
    const model = served(req.model);
    const tokens = req.messages
      ? (await chatPromptOf({ ...req, messages: req.messages }, model)).promptTokens
      : await textPromptOf(req.prompt!, model, 'prompt', req.add_special_tokens ?? true);
    return c.json({ count: tokens.length, max_model_len: model.info.max_context, tokens });
  });

  app.post('/detokenize', async (c) => {
    const req = validate(DetokenizeRequest, parseJson(await c.req.text()), strict);
    const model = served(req.model);
    const bad = req.tokens.find((t) => t >= model.info.vocab_size);
    if (bad !== undefined) throw invalidRequest(`token id ${bad} is outside the vocabulary (size ${model.info.vocab_size})`, 'tokens');
    return c.json({ prompt: model.tokenizer.decode(req.tokens, { skipSpecialTokens: true }) });
  });
  return app;
}
