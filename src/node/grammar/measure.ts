// Cost of constrained decoding on the default model's vocabulary (Mistral v3, 32768 tokens):
//   node --import tsx src/node/grammar/measure.ts [--tokens 3000] [--model-dir DIR]
// Prints the one-time costs (tokenizer info, grammar compile, cache hit) and, per generated
// token, the time to compute the mask (XGrammar, WASM) and to apply it to the logits, while a
// random-logits "model" decodes under json_object, a nested schema with length-limited strings
// (maxLength 30 … 80), the same schema without length limits, and a tool-call list (two tools,
// as tool_choice required compiles it).
import { parseArgs } from 'node:util';
import { Tokenizer } from '../../tokenizer/tokenizer.ts';
import { mistralV3TokenizerConfigJson, mistralV3TokenizerJson } from '../../tokenizer/mistral_v3_tokenizer.ts';
import { toolCallSchema } from '../../gateway/tool_call_schema.ts';
import { Sfc32 } from '../prng.ts';
import { ConstrainedDecoding, type CompiledResponseFormat } from './index.ts';

const { values: args } = parseArgs({ options: { tokens: { type: 'string', default: '3000' }, 'model-dir': { type: 'string' } } });
const tokensPerCase = Number(args.tokens);

const nested = {
  type: 'object',
  properties: {
    name: { type: 'string', maxLength: 40 },
    age: { type: 'integer', minimum: 0, maximum: 130 },
    email: { type: ['string', 'null'], maxLength: 60 },
    born: { type: 'string', format: 'date' },
    tags: { type: 'array', items: { enum: ['admin', 'staff', 'guest'] }, maxItems: 5 },
    address: {
      type: 'object',
      properties: { city: { type: 'string', maxLength: 30 }, zip: { type: 'integer', minimum: 1000, maximum: 99999 }, geo: { type: 'array', prefixItems: [{ type: 'number' }, { type: 'number' }], items: false, minItems: 2 } },
      required: ['city', 'zip', 'geo'],
      additionalProperties: false,
    },
    notes: { type: 'array', items: { type: 'object', properties: { text: { type: 'string', maxLength: 80 }, pinned: { type: 'boolean' } }, required: ['text', 'pinned'], additionalProperties: false }, maxItems: 3 },
  },
  required: ['name', 'age', 'email', 'born', 'tags', 'address', 'notes'],
  additionalProperties: false,
};

/** The same shape with no length limits: compile cost of the structure alone. */
const unlimited = JSON.parse(JSON.stringify(nested, (key, value) => (key === 'maxLength' ? undefined : value)));

const tools = toolCallSchema(
  [
    { type: 'function', function: { name: 'get_weather', parameters: { type: 'object', properties: { city: { type: 'string' }, unit: { enum: ['celsius', 'fahrenheit'] } }, required: ['city', 'unit'], additionalProperties: false } } },
    { type: 'function', function: { name: 'search', parameters: { type: 'object', properties: { query: { type: 'string' }, limit: { type: 'integer', minimum: 1, maximum: 50 } }, required: ['query'] } } },
  ],
  { only: null, parallel: true },
);

const ms = (t0: number) => performance.now() - t0;
const quantile = (sorted: number[], q: number) => sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]!;
const us = (x: number) => `${(x * 1000).toFixed(0)} µs`;

function summary(label: string, samples: number[]): string {
  const sorted = [...samples].sort((a, b) => a - b);
  const mean = samples.reduce((s, x) => s + x, 0) / samples.length;
  return `${label.padEnd(22)} median ${us(quantile(sorted, 0.5)).padStart(8)}  p90 ${us(quantile(sorted, 0.9)).padStart(8)}  p99 ${us(quantile(sorted, 0.99)).padStart(8)}  mean ${us(mean).padStart(8)}  max ${us(sorted.at(-1)!).padStart(9)}`;
}

async function decodeCost(cd: ConstrainedDecoding, tok: Tokenizer, compiled: CompiledResponseFormat, tokens: number) {
  const random = new Sfc32(1, 2, 3);
  const logits = new Float32Array(tok.vocabSize);
  const closers: number[] = [];
  for (let id = 0; id < tok.vocabSize; id++) if (/["}\]]/.test(tok.tokenString(id))) closers.push(id);
  const mask: number[] = [];
  const apply: number[] = [];
  const accept: number[] = [];
  let outputs = 0;
  while (mask.length < tokens) {
    const matcher = await cd.matcher(compiled);
    outputs++;
    for (let step = 0; !matcher.isTerminated() && mask.length < tokens; step++) {
      for (let i = 0; i < logits.length; i++) logits[i] = (random.next() / 2 ** 32) * 8;
      if (step >= 200) {
        // A model that wants to finish: strings and objects close, then EOS.
        logits[tok.eosId!] += 100;
        for (const id of closers) logits[id] += 10;
      }
      let t0 = performance.now();
      await matcher.fillNextTokenBitmask();
      mask.push(ms(t0));
      t0 = performance.now();
      matcher.applyMask(logits);
      apply.push(ms(t0));
      let best = 0;
      for (let i = 1; i < logits.length; i++) if (logits[i]! > logits[best]!) best = i;
      t0 = performance.now();
      if (!matcher.accept(best)) throw new Error(`the matcher rejected token ${best}`);
      accept.push(ms(t0));
    }
    matcher.dispose();
  }
  const total = mask.map((m, i) => m + apply[i]! + accept[i]!);
  return { mask, apply, accept, total, outputs };
}

const tokenizer =
  args['model-dir'] !== undefined ? await Tokenizer.load(args['model-dir']) : Tokenizer.fromJson(mistralV3TokenizerJson(), mistralV3TokenizerConfigJson(32768));
console.log(`vocabulary: ${tokenizer.vocabSize} tokens, EOS ${tokenizer.eosId}; node ${process.version}`);

let t0 = performance.now();
const cd = await ConstrainedDecoding.create(tokenizer);
console.log(`create (XGrammar WASM start + tokenizer info): ${ms(t0).toFixed(0)} ms`);

const cases = [
  { label: 'json_object', format: { type: 'json_object' } },
  { label: 'nested json_schema', format: { type: 'json_schema', json_schema: { name: 'person', schema: nested, strict: true } } },
  { label: 'same, no maxLength', format: { type: 'json_schema', json_schema: { name: 'person', schema: unlimited, strict: true } } },
  { label: 'tool calls (2 tools)', format: { type: 'json_schema', json_schema: { name: 'tool_calls', schema: tools.schema, strict: tools.strict } } },
];
for (const { label, format } of cases) {
  const rss0 = process.memoryUsage().rss;
  t0 = performance.now();
  const compiled = (await cd.compileResponseFormat(format))!;
  const compileMs = ms(t0);
  t0 = performance.now();
  await cd.compileResponseFormat(format);
  const hitMs = ms(t0);
  console.log(`\n${label}: grammar ${compiled.ebnf.split('\n').length} rules; compile ${compileMs.toFixed(0)} ms (cache hit ${hitMs.toFixed(2)} ms), RSS +${((process.memoryUsage().rss - rss0) / 2 ** 20).toFixed(0)} MiB`);
  const { mask, apply, accept, total, outputs } = await decodeCost(cd, tokenizer, compiled, tokensPerCase);
  console.log(`${mask.length} tokens over ${outputs} outputs, per token:`);
  console.log(summary('mask (XGrammar)', mask));
  console.log(summary('apply to logits', apply));
  console.log(summary('accept', accept));
  console.log(summary('total', total));
}
cd.dispose();
