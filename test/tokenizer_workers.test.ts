// Long texts are tokenized on worker threads (issue 11): the same ids as inline encoding, the
// event loop keeps turning while they encode, and the queue in front of the workers is bounded.
import { afterAll, beforeAll, expect, it } from 'vitest';
import { Tokenizer } from '../src/tokenizer/tokenizer.ts';
import { INLINE_CHARS, TokenizerBusy } from '../src/tokenizer/tokenizer_workers.ts';
import { TempModels } from './helpers/models.ts';

const models = new TempModels();
let tokenizer: Tokenizer;
beforeAll(async () => {
  tokenizer = await Tokenizer.load(await models.make({ preset: 'sirocco-default', seed: 1, layers: 1 }));
}, 60_000);
afterAll(async () => {
  await tokenizer.close();
  models.cleanup();
});

// Words, digits, accents and emoji, so byte fallback and merges are both exercised.
const text = (chars: number) => {
  const words = ['Mistral', 'wind', 'über', 'naïve', '42', 'façade', '🌬️', 'sirocco', 'the', 'of'];
  let s = '';
  for (let i = 0; s.length < chars; i++) s += words[(i * 7) % words.length] + (i % 13 === 0 ? '.\n' : ' ');
  return s;
};

it('gives the ids encode() gives, inline for short texts and on a worker for long ones', async () => {
  const short = text(200);
  expect(await tokenizer.encodeAsync(short)).toEqual(tokenizer.encode(short));
  const long = text(INLINE_CHARS * 3);
  expect(await tokenizer.encodeAsync(long, { addSpecialTokens: false })).toEqual(tokenizer.encode(long, { addSpecialTokens: false }));
  const messages = [{ role: 'user' as const, content: long }];
  expect(await tokenizer.chatPromptAsync(messages)).toEqual(tokenizer.chatPrompt(messages));
}, 60_000);

it('leaves the event loop free while a long text encodes', async () => {
  let ticks = 0;
  const timer = setInterval(() => ticks++, 1);
  try {
    await tokenizer.encodeAsync(text(200_000));
  } finally {
    clearInterval(timer);
  }
  expect(ticks).toBeGreaterThan(0); // inline, the loop could not have run a single timer
}, 60_000);

it('refuses beyond 64 waiting texts with TokenizerBusy, and a closed pool fails what it held', async () => {
  const other = await Tokenizer.load(await models.make({ preset: 'sirocco-default', seed: 2, layers: 1 }));
  const results = Array.from({ length: 70 }, () => other.encodeAsync(text(INLINE_CHARS + 1)).then(() => 'ok', (e: Error) => e));
  await other.close();
  const outcomes = await Promise.all(results);
  expect(outcomes.filter((o) => o instanceof TokenizerBusy)).toHaveLength(6);
  expect(outcomes.filter((o) => o instanceof Error && !(o instanceof TokenizerBusy)).length + outcomes.filter((o) => o === 'ok').length).toBe(64);
}, 60_000);
