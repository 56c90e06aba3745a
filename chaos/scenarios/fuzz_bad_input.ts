// Bad input, generated: fast-check builds chat and completion bodies from a valid one with
// one or more fields replaced by arbitrary JSON (wrong types, out-of-range numbers, huge and
// empty strings, deep nesting), plus broken messages. Every answer must be a 2xx or a 4xx
// with the OpenAI error object; a 400 about a field names it in `param`.
import fc from 'fast-check';
import { startStack } from '../../test/helpers/stack.ts';
import { isOpenAIError, type Scenario } from '../scenario.ts';

const SEED = 20261203;
const FIELDS = ['model', 'messages', 'prompt', 'temperature', 'top_p', 'n', 'max_tokens', 'max_completion_tokens', 'stop', 'seed', 'logprobs', 'top_logprobs', 'presence_penalty', 'frequency_penalty', 'logit_bias', 'response_format', 'tools', 'tool_choice', 'stream', 'stream_options', 'user', 'min_p', 'top_k', 'repetition_penalty', 'safe_prompt', 'random_seed', 'suffix', 'echo'];

const message = fc.oneof(
  fc.record({ role: fc.constantFrom('system', 'user', 'assistant', 'tool'), content: fc.oneof(fc.string(), fc.jsonValue()) }),
  fc.dictionary(fc.string({ maxLength: 12 }), fc.jsonValue({ maxDepth: 3 })),
  fc.jsonValue({ maxDepth: 2 }),
);

const request = fc.record({
  endpoint: fc.constantFrom('/v1/chat/completions', '/v1/completions'),
  replaced: fc.dictionary(fc.constantFrom(...FIELDS), fc.oneof(fc.jsonValue({ maxDepth: 4 }), fc.array(message, { maxLength: 4 }), fc.double(), fc.integer(), fc.string({ maxLength: 300 })), { minKeys: 1, maxKeys: 4 }),
});

export const fuzzBadInput: Scenario = {
  name: 'bad-input fuzzing',
  claim: 'no 5xx; every 4xx is an OpenAI error object; every 400 about a field names it (param)',
  async run({ short, log }) {
    const total = short ? 1000 : 10_000;
    const stack = await startStack({ nodeArgs: ['--max-sequences', '16'] });
    try {
      const key = await stack.createKey('fuzz');
      const samples = fc.sample(request, { numRuns: total, seed: SEED });
      const statuses = new Map<number, number>();
      const failures: string[] = [];
      let unnamed = 0;
      let next = 0;
      const worker = async () => {
        for (let i = next++; i < samples.length; i = next++) {
          const { endpoint, replaced } = samples[i]!;
          const valid = endpoint === '/v1/chat/completions' ? { model: 'sirocco-test', messages: [{ role: 'user', content: 'hi' }] } : { model: 'sirocco-test', prompt: 'hi' };
          const body = { ...valid, max_tokens: 2, ...replaced };
          const res = await fetch(`${stack.gateway.url}${endpoint}`, { method: 'POST', headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' }, body: JSON.stringify(body) });
          statuses.set(res.status, (statuses.get(res.status) ?? 0) + 1);
          const text = await res.text();
          if (res.status >= 500) failures.push(`${res.status} for ${JSON.stringify(body).slice(0, 300)}: ${text.slice(0, 200)}`);
          else if (res.status >= 400) {
            const parsed = JSON.parse(text) as unknown;
            if (!isOpenAIError(parsed)) failures.push(`${res.status} without the OpenAI error object: ${text.slice(0, 200)}`);
            else if (res.status === 400 && parsed.error.param === null) {
              unnamed++;
              if (unnamed <= 5) failures.push(`400 naming no param for ${JSON.stringify(replaced).slice(0, 200)}: ${parsed.error.message}`);
            }
          }
          if ((i + 1) % 1000 === 0) log(`${i + 1}/${total} requests`);
        }
      };
      await Promise.all(Array.from({ length: 8 }, worker));
      const fivexx = [...statuses].filter(([s]) => s >= 500).reduce((n, [, c]) => n + c, 0);
      const summary = [...statuses].sort(([a], [b]) => a - b).map(([s, c]) => `${c} × ${s}`).join(', ');
      return {
        figure: `${total} generated requests (seed ${SEED}): ${summary}; ${fivexx} × 5xx; ${unnamed} × 400 naming no param`,
        pass: failures.length === 0,
        notes: failures.slice(0, 10),
      };
    } finally {
      await stack.stop();
    }
  },
};
