// Sampling fields end to end, through the official `openai` client: logit_bias, frequency
// and presence penalties, repetition_penalty, min_p, min_tokens, ignore_eos, stop_token_ids.
// Each test asserts what the field does to the output, with tokens named by id (vLLM's
// return_tokens_as_token_ids) and raw top-20 logprobs, so the exact choice at every step can
// be checked against the documented formula.
import OpenAI from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Tokenizer } from '../src/tokenizer/tokenizer.ts';
import { startStack, type Stack } from './helpers/stack.ts';

const messages = [{ role: 'user' as const, content: 'Say it again and again: the wind, the wind, the wind.' }];
let stack: Stack;
let client: OpenAI;
let promptIds: number[]; // the chat prompt's tokens, as the gateway renders them
beforeAll(async () => {
  stack = await startStack();
  client = new OpenAI({ baseURL: `${stack.gateway.url}/v1`, apiKey: await stack.createKey('sampling'), maxRetries: 0 });
  promptIds = (await Tokenizer.load(stack.modelDir)).chatPrompt(messages);
}, 120_000);
afterAll(async () => stack?.stop());

const EOS = 2; // </s> in the Mistral v1 vocabulary

// Fields the openai client does not type: vLLM's sampling extensions.
type Extras = {
  logit_bias?: Record<string, number>;
  repetition_penalty?: number;
  min_p?: number;
  min_tokens?: number;
  ignore_eos?: boolean;
  stop_token_ids?: number[];
  return_tokens_as_token_ids?: boolean;
};

type Candidate = { id: number; lp: number };
// ids: the chosen tokens; steps[k]: the chosen token and the raw top 20 at step k.
type Run = { ids: number[]; steps: Candidate[][]; text: string; finish: string; completionTokens: number };

const idOf = (name: string) => Number(/^token_id:(\d+)$/.exec(name)![1]);

async function chat(fields: Partial<OpenAI.ChatCompletionCreateParamsNonStreaming> & Extras, maxTokens = 12): Promise<Run> {
  const body: OpenAI.ChatCompletionCreateParamsNonStreaming & Extras = {
    model: stack.modelId,
    messages,
    max_tokens: maxTokens,
    temperature: 0,
    logprobs: true,
    top_logprobs: 20,
    return_tokens_as_token_ids: true,
    ...fields,
  };
  const r = await client.chat.completions.create(body);
  const choice = r.choices[0]!;
  const content = choice.logprobs!.content!;
  return {
    ids: content.map((t) => idOf(t.token)),
    steps: content.map((t) => [{ id: idOf(t.token), lp: t.logprob }, ...t.top_logprobs.map((a) => ({ id: idOf(a.token), lp: a.logprob }))]),
    text: choice.message.content ?? '',
    finish: choice.finish_reason,
    completionTokens: r.usage!.completion_tokens,
  };
}

// The raw logprob of `token` after the chat prompt and `prefix`: a completion of the same
// tokens, forced to pick `token` (+100), reports it.
async function rawLogprob(prefix: number[], token: number): Promise<number> {
  const body: OpenAI.CompletionCreateParamsNonStreaming & Extras = {
    model: stack.modelId,
    prompt: [...promptIds, ...prefix],
    max_tokens: 1,
    temperature: 0,
    logprobs: 0,
    logit_bias: { [token]: 100 },
    return_tokens_as_token_ids: true,
  };
  const lp = (await client.completions.create(body)).choices[0]!.logprobs!;
  expect(lp.tokens).toEqual([`token_id:${token}`]);
  return lp.token_logprobs![0]!;
}

// Whether step k of `run` chose the best token once `adjust` (penalties, bias) is applied to
// the raw logprobs (logprob = logit − logsumexp: a shift that does not change which is best).
// Candidates: the raw top 20 and `boosted` (the one token `adjust` can raise, its logprob
// fetched when it is not listed); any other token scores at most its raw logprob, below the
// 20th, so the chosen one must also beat that.
async function choseBest(run: Run, k: number, boosted: number, adjust: (id: number, lp: number) => number): Promise<boolean> {
  const [chosen, ...top] = run.steps[k]!;
  const candidates = [...top];
  if (!top.some((c) => c.id === boosted) && chosen!.id !== boosted) candidates.push({ id: boosted, lp: await rawLogprob(run.ids.slice(0, k), boosted) });
  const mine = adjust(chosen!.id, chosen!.lp);
  const floor = Math.min(...top.map((c) => c.lp));
  return mine >= floor - 1e-4 && candidates.every((c) => adjust(c.id, c.lp) <= mine + 1e-4);
}

describe('logit_bias', () => {
  it('-100 on the greedy token bans it: the runner-up is chosen and the token never appears', async () => {
    const plain = await chat({});
    const banned = plain.ids[0]!;
    const biased = await chat({ logit_bias: { [banned]: -100 } });
    expect(biased.ids[0]).toBe(plain.steps[0]![2]!.id); // [0] chosen, [1] best, [2] runner-up
    expect(biased.ids).not.toContain(banned);
    expect(biased.text).not.toBe(plain.text);
  });

  it('+100 on a token makes greedy pick it at every step', async () => {
    const plain = await chat({});
    const forced = [1500, 1501, 1502].find((t) => !plain.ids.includes(t))!;
    const r = await chat({ logit_bias: { [forced]: 100 } }, 6);
    expect(r.ids).toEqual(Array(6).fill(forced));
    expect(r.finish).toBe('length');
  });
});

// The random-weight model rarely repeats itself, so make a greedy repetition on purpose: bias
// the step-0 runner-up just enough that it wins every step (its raw gap to the best token
// along that path, plus 0.5).
async function forcedRepetition(maxTokens: number): Promise<{ token: number; bias: number }> {
  const token = (await chat({}, 1)).steps[0]![2]!.id;
  const path = await chat({ logit_bias: { [token]: 100 } }, maxTokens);
  const bias = Math.max(...path.steps.map((s) => s[1]!.lp - s[0]!.lp)) + 0.5;
  return { token, bias };
}

describe('penalties', () => {
  it('frequency and presence penalties follow OpenAI\'s formula at every step, and break a greedy repetition', async () => {
    const { token, bias } = await forcedRepetition(12);
    const logitBias = { [token]: bias };
    expect((await chat({ logit_bias: logitBias }, 12)).ids).toEqual(Array(12).fill(token));
    // Each penalty alone and both together: a wrong formula changes some choice in one of them.
    for (const [frequency, presence] of [[2, 0], [0, 2], [1, 1]] as const) {
      const r = await chat({ logit_bias: logitBias, frequency_penalty: frequency, presence_penalty: presence }, 12);
      expect(r.ids.filter((t) => t === token).length).toBeLessThan(12);
      for (let k = 0; k < r.ids.length; k++) {
        const counts = new Map<number, number>();
        for (const t of r.ids.slice(0, k)) counts.set(t, (counts.get(t) ?? 0) + 1);
        const n = (id: number) => counts.get(id) ?? 0;
        const adjust = (id: number, lp: number) => lp + (id === token ? bias : 0) - n(id) * frequency - (n(id) > 0 ? presence : 0);
        expect(await choseBest(r, k, token, adjust), `frequency ${frequency}, presence ${presence}, step ${k}`).toBe(true);
      }
    }
  });

  it('repetition_penalty breaks a greedy repetition; seeded sampling with every rule repeats exactly', async () => {
    const { token, bias } = await forcedRepetition(12);
    const r = await chat({ logit_bias: { [token]: bias }, repetition_penalty: 3 }, 12);
    expect(r.ids.filter((t) => t === token).length).toBeLessThan(12);
    const fields = { temperature: 0.9, top_p: 0.95, frequency_penalty: 0.4, repetition_penalty: 1.1, min_p: 0.05, logit_bias: { '1500': 3 } };
    const [a, b, c] = [await chat({ ...fields, seed: 5 }, 16), await chat({ ...fields, seed: 5 }, 16), await chat({ ...fields, seed: 6 }, 16)];
    expect(a.ids).toEqual(b.ids);
    expect(c.ids).not.toEqual(a.ids);
  });
});

describe('min_p', () => {
  it('min_p 1 keeps only the most likely token: sampling at any seed is greedy', async () => {
    const plain = await chat({}, 10);
    for (const seed of [1, 2, 3]) expect((await chat({ temperature: 1.5, min_p: 1, seed }, 10)).ids).toEqual(plain.ids);
  });
});

describe('end of generation', () => {
  it('min_tokens masks EOS until that many tokens exist', async () => {
    const eager = await chat({ logit_bias: { [EOS]: 100 } });
    expect(eager.ids).toEqual([EOS]);
    expect(eager.finish).toBe('stop');
    const r = await chat({ logit_bias: { [EOS]: 100 }, min_tokens: 5 });
    expect(r.ids).toHaveLength(6);
    expect(r.ids.slice(0, 5)).not.toContain(EOS);
    expect(r.ids[5]).toBe(EOS);
    expect(r.finish).toBe('stop');
  });

  it('ignore_eos with min_tokens produces exactly max_tokens tokens; an ignored EOS adds no text', async () => {
    const r = await chat({ logit_bias: { [EOS]: 100 }, min_tokens: 3, ignore_eos: true }, 8);
    expect(r.completionTokens).toBe(8);
    expect(r.ids.slice(3)).toEqual(Array(5).fill(EOS));
    expect(r.finish).toBe('length');
    const onlyEos = await chat({ logit_bias: { [EOS]: 100 }, ignore_eos: true }, 4);
    expect(onlyEos.ids).toEqual([EOS, EOS, EOS, EOS]);
    expect(onlyEos.text).toBe('');
  });

  it('stop_token_ids stops at that token, keeping its text, with finish_reason stop', async () => {
    const plain = await chat({}, 12);
    const k = plain.ids.findIndex((t, i) => i >= 2 && plain.ids.indexOf(t) === i && t !== EOS);
    expect(k).toBeGreaterThanOrEqual(2);
    const r = await chat({ stop_token_ids: [plain.ids[k]!] }, 12);
    expect(r.ids).toEqual(plain.ids.slice(0, k + 1));
    expect(r.finish).toBe('stop');
    expect(r.text).toBe((await chat({}, k + 1)).text);
  });

  it('min_tokens holds back stop_token_ids too', async () => {
    const plain = await chat({}, 4);
    const r = await chat({ stop_token_ids: [plain.ids[0]!], min_tokens: 1 }, 4);
    expect(r.ids[0]).toBe(plain.steps[0]![2]!.id);
  });
});
