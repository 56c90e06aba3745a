// Structured outputs by constrained decoding (src/node/grammar): with the real Mistral v1
// tokenizer files of the default model, a "model" that emits random logits, masked by the
// grammar at every step, always produces text that parses as JSON and validates against the
// request's schema. Random logits are the worst case: every token the mask lets through is
// equally likely, including byte tokens, whitespace runs and odd Unicode.
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  ConstrainedDecoding,
  ResponseFormatError,
  countAllowed,
  grammarVocabulary,
  integerLimit,
  normalizeJsonSchema,
  type CompiledResponseFormat,
  type Schema,
} from '../src/node/grammar/index.ts';
import { Tokenizer } from '../src/tokenizer/tokenizer.ts';
import { makeTiny } from '../weights-tools/make_tiny.ts';
import { Sfc32 } from '../src/node/prng.ts';

let tmp = '';
let tok: Tokenizer;
let cd: ConstrainedDecoding;
/** Tokens whose piece can close a string, an object or an array: the "wrap up" bias. */
let closers: number[] = [];

beforeAll(async () => {
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'sirocco-grammar-'));
  // Mistral v1's vocabulary (32000 pieces) with throwaway-sized weights.
  const shrink = { hidden: 8, intermediate: 8, layers: 1, heads: 1, kvHeads: 1, headDim: 8, experts: 0, vocab: 32000, quiet: true };
  await makeTiny({ preset: 'sirocco-default', out: path.join(tmp, 'model'), ...shrink });
  tok = await Tokenizer.load(path.join(tmp, 'model'));
  // A small cache: 200 random schemas would otherwise keep 200 grammars' tables in the heap.
  cd = await ConstrainedDecoding.create(tok, { cacheSize: 8 });
  for (let id = 0; id < tok.vocabSize; id++) if (/["}\]]/.test(tok.tokenString(id))) closers.push(id);
});
afterAll(() => {
  cd?.dispose();
  fs.rmSync(tmp, { recursive: true, force: true });
});

// ---- the random "model" -------------------------------------------------------------------

type Decoded = { ids: number[]; text: string; terminated: boolean };

type DecodeOptions = {
  seed: number;
  /** argmax of the masked random logits, or a softmax sample of them. */
  pick?: 'argmax' | 'sample';
  maxSteps?: number;
  /**
   * From this step on, EOS and closing tokens get a large bonus: a model that wants to finish.
   * Schemas without length limits (json_object) need it; bounded schemas end on their own.
   */
  wrapUpAfter?: number;
};

async function decode(compiled: CompiledResponseFormat, options: DecodeOptions): Promise<Decoded> {
  const random = new Sfc32(options.seed, 0x5eed, 0xc0ffee);
  const matcher = await cd.matcher(compiled);
  const logits = new Float32Array(tok.vocabSize);
  const ids: number[] = [];
  try {
    for (let step = 0; step < (options.maxSteps ?? 3000) && !matcher.isTerminated(); step++) {
      for (let i = 0; i < logits.length; i++) logits[i] = (random.next() / 2 ** 32) * 8;
      if (options.wrapUpAfter !== undefined && step >= options.wrapUpAfter) {
        logits[tok.eosId!] += 100;
        for (const id of closers) logits[id] += 10;
      }
      await matcher.fillNextTokenBitmask();
      matcher.applyMask(logits);
      const token = options.pick === 'sample' ? sampleSoftmax(logits, random) : argmax(logits);
      expect(matcher.allows(token), `step ${step}: sampled a masked token ${token}`).toBe(true);
      expect(matcher.accept(token), `step ${step}: the matcher rejected allowed token ${token} (${tok.tokenString(token)})`).toBe(true);
      ids.push(token);
    }
    const text = tok.decode(ids.filter((id) => id !== tok.eosId));
    return { ids, text, terminated: matcher.isTerminated() };
  } finally {
    matcher.dispose();
  }
}

function argmax(v: Float32Array): number {
  let best = 0;
  for (let i = 1; i < v.length; i++) if (v[i]! > v[best]!) best = i;
  return best;
}

function sampleSoftmax(v: Float32Array, random: Sfc32): number {
  const max = v[argmax(v)]!;
  let total = 0;
  for (let i = 0; i < v.length; i++) total += Math.exp(v[i]! - max);
  let r = (random.next() / 2 ** 32) * total;
  for (let i = 0; i < v.length; i++) {
    r -= Math.exp(v[i]! - max);
    if (r < 0) return i;
  }
  return argmax(v);
}

// ---- an independent validator for the JSON Schema subset the tests use --------------------

const codePoints = (s: string) => [...s].length;

function deepEqual(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (typeof a !== 'object' || typeof b !== 'object' || a === null || b === null) return false;
  if (Array.isArray(a) !== Array.isArray(b)) return false;
  const ka = Object.keys(a);
  const kb = Object.keys(b);
  return ka.length === kb.length && ka.every((k) => k in b && deepEqual((a as Schema)[k], (b as Schema)[k]));
}

function daysIn(year: number, month: number): number {
  return [31, year % 4 === 0 && (year % 100 !== 0 || year % 400 === 0) ? 29 : 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31][month - 1] ?? 0;
}
function isDate(s: string): boolean {
  const m = /^(\d{4})-(\d{2})-(\d{2})$/.exec(s);
  return m !== null && +m[2]! >= 1 && +m[2]! <= 12 && +m[3]! >= 1 && +m[3]! <= daysIn(+m[1]!, +m[2]!);
}
function isTime(s: string): boolean {
  const m = /^(\d{2}):(\d{2}):(\d{2})(\.\d+)?(Z|[+-](\d{2}):(\d{2}))$/i.exec(s);
  return m !== null && +m[1]! < 24 && +m[2]! < 60 && +m[3]! < 60 && (m[6] === undefined || (+m[6] < 24 && +m[7]! < 60));
}
const formats: Record<string, (s: string) => boolean> = {
  date: isDate,
  time: isTime,
  'date-time': (s) => /^[^T]+T.+$/i.test(s) && isDate(s.split(/T/i)[0]!) && isTime(s.slice(11)),
  uuid: (s) => /^[0-9a-f]{8}-([0-9a-f]{4}-){3}[0-9a-f]{12}$/i.test(s),
};

function typeMatches(v: unknown, t: string): boolean {
  switch (t) {
    case 'null': return v === null;
    case 'boolean': return typeof v === 'boolean';
    case 'string': return typeof v === 'string';
    case 'number': return typeof v === 'number';
    case 'integer': return typeof v === 'number' && Number.isInteger(v);
    case 'array': return Array.isArray(v);
    case 'object': return typeof v === 'object' && v !== null && !Array.isArray(v);
    default: throw new Error(`validator: unknown type ${t}`);
  }
}

/** Problems of `v` against `schema` (empty = valid); `strict` = additionalProperties false by default. */
function validate(schema: unknown, v: unknown, root: Schema, strict: boolean, at = '$'): string[] {
  if (schema === true) return [];
  if (schema === false) return [`${at}: false schema`];
  const s = schema as Schema;
  const errors: string[] = [];
  const err = (msg: string) => errors.push(`${at}: ${msg} (value ${JSON.stringify(v)})`);
  if (typeof s.$ref === 'string') {
    const target = s.$ref === '#' ? root : s.$ref.split('/').slice(1).reduce<unknown>((o, k) => (o as Schema)[k], root);
    return validate(target, v, root, strict, at);
  }
  if (s.type !== undefined && !(Array.isArray(s.type) ? s.type : [s.type]).some((t) => typeMatches(v, t as string))) err(`not of type ${JSON.stringify(s.type)}`);
  if ('const' in s && !deepEqual(s.const, v)) err(`not the const ${JSON.stringify(s.const)}`);
  if (Array.isArray(s.enum) && !s.enum.some((e) => deepEqual(e, v))) err('not in enum');
  if (Array.isArray(s.anyOf) && !s.anyOf.some((b) => validate(b, v, root, strict).length === 0)) err('matches no anyOf branch');
  if (Array.isArray(s.oneOf) && s.oneOf.filter((b) => validate(b, v, root, strict).length === 0).length !== 1) err('does not match exactly one oneOf branch');
  if (typeof v === 'string') {
    if (typeof s.minLength === 'number' && codePoints(v) < s.minLength) err(`shorter than ${s.minLength}`);
    if (typeof s.maxLength === 'number' && codePoints(v) > s.maxLength) err(`longer than ${s.maxLength}`);
    if (typeof s.format === 'string' && !formats[s.format]!(v)) err(`not a ${s.format}`);
  }
  if (typeof v === 'number') {
    if (typeof s.minimum === 'number' && v < s.minimum) err(`below ${s.minimum}`);
    if (typeof s.maximum === 'number' && v > s.maximum) err(`above ${s.maximum}`);
    if (typeof s.exclusiveMinimum === 'number' && v <= s.exclusiveMinimum) err(`not above ${s.exclusiveMinimum}`);
    if (typeof s.exclusiveMaximum === 'number' && v >= s.exclusiveMaximum) err(`not below ${s.exclusiveMaximum}`);
  }
  if (Array.isArray(v)) {
    if (typeof s.minItems === 'number' && v.length < s.minItems) err(`fewer than ${s.minItems} items`);
    if (typeof s.maxItems === 'number' && v.length > s.maxItems) err(`more than ${s.maxItems} items`);
    const prefix = (s.prefixItems as unknown[] | undefined) ?? [];
    v.forEach((item, i) => {
      const itemSchema = i < prefix.length ? prefix[i] : (s.items ?? true);
      errors.push(...validate(itemSchema, item, root, strict, `${at}[${i}]`));
    });
  }
  if (typeMatches(v, 'object')) {
    const obj = v as Schema;
    const props = (s.properties as Schema | undefined) ?? {};
    for (const r of (s.required as string[] | undefined) ?? []) if (!(r in obj)) err(`missing required "${r}"`);
    const additional = s.additionalProperties ?? (strict && s.properties !== undefined ? false : true);
    for (const [k, value] of Object.entries(obj)) {
      errors.push(...validate(k in props ? props[k] : additional, value, root, strict, `${at}.${k}`));
    }
  }
  return errors;
}

async function expectValidOutputs(schema: Schema, strict: boolean, runs: { seed: number; pick: 'argmax' | 'sample' }[]) {
  const compiled = await cd.compileResponseFormat({ type: 'json_schema', json_schema: { name: 'test', schema, strict } });
  for (const run of runs) {
    const out = await decode(compiled!, { ...run, maxSteps: 2000 });
    const context = `schema ${JSON.stringify(schema)}, strict ${strict}, ${JSON.stringify(run)}, text ${JSON.stringify(out.text)}`;
    expect(out.terminated, `did not finish in 2000 tokens: ${context}`).toBe(true);
    let value: unknown;
    expect(() => (value = JSON.parse(out.text)), context).not.toThrow();
    expect(validate(schema, value, schema, strict), context).toEqual([]);
  }
}

// ---- tests --------------------------------------------------------------------------------

describe('the grammar vocabulary of the Mistral v1 tokenizer', () => {
  it('hands XGrammar every piece in id order, byte_fallback, EOS as the stop token, specials blanked', () => {
    const v = grammarVocabulary(tok);
    expect(v.vocabSize).toBe(32000);
    expect(v.encodedVocab).toHaveLength(32000);
    expect(v.vocabType).toBe('byte_fallback');
    expect(v.stopTokenIds).toEqual([2]);
    expect(v.encodedVocab.slice(0, 4)).toEqual(['', '', '</s>', '<0x00>']); // <unk>, <s> never allowed
    expect(v.encodedVocab[tok.encode('Hello', { addSpecialTokens: false })[0]!]).toBe('▁Hello');
    expect(grammarVocabulary(tok, { logitsSize: 32064 }).vocabSize).toBe(32064);
  });

  it('at the start of json_object allows only "{" (after optional whitespace), never EOS or <s>', async () => {
    const compiled = await cd.compileResponseFormat({ type: 'json_object' });
    const matcher = await cd.matcher(compiled!);
    const mask = await matcher.fillNextTokenBitmask();
    const allowed = [...Array(tok.vocabSize).keys()].filter((id) => matcher.allows(id));
    expect(countAllowed(mask, tok.vocabSize)).toBe(allowed.length);
    expect(allowed.length).toBeGreaterThan(0);
    for (const id of allowed) expect(tok.tokenBytes(id)[0]).toBe(0x7b); // "{", "{\"", <0x7B> …
    for (const id of [0, 1, 2]) expect(matcher.allows(id)).toBe(false);
    const logits = new Float32Array(tok.vocabSize).fill(1);
    matcher.applyMask(logits);
    expect(logits.filter((x) => x === 1).length).toBe(allowed.length);
    expect(logits[2]).toBe(-Infinity);
    matcher.dispose();
  });

  it('refuses a token the grammar does not allow without changing state; after EOS nothing more', async () => {
    const compiled = await cd.compileResponseFormat({ type: 'json_schema', json_schema: { name: 'b', schema: { type: 'boolean' }, strict: true } });
    const matcher = await cd.matcher(compiled!);
    const id = (piece: string) => [...Array(tok.vocabSize).keys()].find((i) => tok.tokenString(i) === piece)!;
    expect(matcher.accept(id('▁Hello'))).toBe(false);
    expect(matcher.accept(-1)).toBe(false);
    expect(matcher.accept(tok.eosId!)).toBe(false); // nothing generated yet
    for (const piece of ['tr', 'ue']) expect(matcher.accept(id(piece))).toBe(true);
    expect(matcher.isTerminated()).toBe(false);
    await matcher.fillNextTokenBitmask();
    expect(matcher.allows(tok.eosId!)).toBe(true);
    expect(matcher.accept(tok.eosId!)).toBe(true);
    expect(matcher.isTerminated()).toBe(true);
    expect(matcher.accept(id('tr'))).toBe(false);
    matcher.dispose();
    expect(() => matcher.isTerminated()).toThrow(/after dispose/);
  });

  it('lets byte tokens spell only valid UTF-8 (XGrammar alone accepts surrogates and overlong forms)', async () => {
    const compiled = await cd.compileResponseFormat({ type: 'json_schema', json_schema: { name: 's', schema: { type: 'string' }, strict: true } });
    const byte = (b: number) => 3 + b; // <0x00> is id 3
    expect(tok.tokenString(byte(0xed))).toBe('<0xED>');
    const quote = [...Array(tok.vocabSize).keys()].find((i) => tok.tokenString(i) === '"')!;
    const attempt = async (bytes: number[]) => {
      const m = await cd.matcher(compiled!);
      expect(m.accept(quote)).toBe(true);
      const ok = bytes.every((b) => m.accept(byte(b)));
      m.dispose();
      return ok;
    };
    expect(await attempt([0xe4, 0xb8, 0xad])).toBe(true); // 中
    expect(await attempt([0xf0, 0x9f, 0xa6, 0x99])).toBe(true); // 🦙
    expect(await attempt([0xed, 0xa0, 0x80])).toBe(false); // a surrogate
    expect(await attempt([0xc0, 0x80])).toBe(false); // overlong NUL
    expect(await attempt([0xe0, 0x80, 0x80])).toBe(false); // overlong
    expect(await attempt([0xf4, 0x90, 0x80, 0x80])).toBe(false); // past U+10FFFF
    // Mid-character only the continuation bytes are allowed: no EOS, no other token.
    const m = await cd.matcher(compiled!);
    m.accept(quote);
    m.accept(byte(0xe0));
    await m.fillNextTokenBitmask();
    const allowed = [...Array(tok.vocabSize).keys()].filter((id) => m.allows(id));
    expect(allowed).toEqual([...Array(0x20).keys()].map((i) => byte(0xa0 + i)));
    m.dispose();
  });
});

describe('response_format validation', () => {
  const schemaError = async (schema: unknown, strict = true) => {
    try {
      await cd.compileResponseFormat({ type: 'json_schema', json_schema: { name: 'x', schema, strict } });
    } catch (error) {
      expect(error).toBeInstanceOf(ResponseFormatError);
      return (error as ResponseFormatError).message;
    }
    throw new Error('no error');
  };

  it('text (or nothing) needs no grammar', async () => {
    expect(await cd.compileResponseFormat({ type: 'text' })).toBeNull();
    expect(await cd.compileResponseFormat(undefined)).toBeNull();
  });

  it('names the field of a malformed response_format', async () => {
    await expect(cd.compileResponseFormat({ type: 'xml' })).rejects.toThrow(/^response_format\.type: type must be 'text', 'json_object' or 'json_schema'/);
    await expect(cd.compileResponseFormat({ type: 'json_schema' })).rejects.toThrow(/^response_format\.json_schema: is required/);
    await expect(cd.compileResponseFormat({ type: 'json_schema', json_schema: { schema: {} } })).rejects.toThrow(/^response_format\.json_schema\.name: is required/);
    await expect(cd.compileResponseFormat({ type: 'json_schema', json_schema: { name: 'has space', schema: {} } })).rejects.toThrow(/name: must be 1-64 characters/);
    await expect(cd.compileResponseFormat({ type: 'json_schema', json_schema: { name: 'x', schema: [] } })).rejects.toThrow(/schema: must be a JSON Schema object/);
    await expect(cd.compileResponseFormat({ type: 'json_schema', json_schema: { name: 'x', strict: 'yes' } })).rejects.toThrow(/strict/);
  });

  it('names the keyword constrained decoding cannot guarantee, with its path', async () => {
    const p = 'response_format.json_schema.schema';
    expect(await schemaError({ type: 'object', properties: { n: { type: 'integer', multipleOf: 3 } } })).toMatch(new RegExp(`^${p}\\.properties\\.n\\.multipleOf: "multipleOf" is the grammar cannot express it \\(supported: type,`));
    expect(await schemaError({ type: 'array', items: { type: 'string' }, uniqueItems: true })).toMatch(/schema\.uniqueItems: "uniqueItems"/);
    expect(await schemaError({ type: 'string', pattern: '^a+$' })).toMatch(/schema\.pattern: "pattern" is not supported \(regular expressions/);
    expect(await schemaError({ type: 'number', minimum: 0.5 })).toMatch(/schema\.minimum: "minimum" on type "number" is not supported/);
    expect(await schemaError({ type: 'string', format: 'email' })).toMatch(/schema\.format: "email" is not supported \(supported formats: date, time, date-time, uuid\)/);
    expect(await schemaError({ allOf: [{ type: 'string' }] })).toMatch(/schema\.allOf: "allOf" is not supported: merge/);
    expect(await schemaError({ oneOf: [{ type: 'integer' }, { type: 'number' }] })).toMatch(/schema\.oneOf: is only supported when its branches cannot both match/);
    expect(await schemaError({ type: 'object', properties: { a: { $ref: '#/$defs/missing' } } })).toMatch(/properties\.a\.\$ref: "#\/\$defs\/missing" does not resolve/);
    expect(await schemaError({ type: 'object', properties: {}, required: ['a'] })).toMatch(/schema\.required: "a" is required but not defined in "properties"/);
    expect(await schemaError({ type: 'integer', minimum: 5, maximum: 4 })).toMatch(/no integer lies within the bounds/);
    expect(await schemaError({ type: 'string', minLength: 5, maxLength: 4 })).toMatch(/minLength: is larger than maxLength/);
    expect(await schemaError({ type: 'object', properties: { a: { type: 'string', enum: ['x', 3] } } })).toMatch(/properties\.a\.enum: 3 does not have type string/);
    expect(await schemaError({ minLength: 1, minItems: 1 })).toMatch(/keywords of several types \(string, array\) without "type"/);
    expect(await schemaError({ type: 'array', prefixItems: [{ type: 'null' }], items: false, minItems: 2 })).toMatch(/asks for more items than the 1/);
  });

  it('normalizes: several types become anyOf, bounds inclusive, $defs shared; what constrains nothing is dropped', () => {
    expect(normalizeJsonSchema({ type: 'string', maxLength: 3, title: 't', nullable: true, 'x-extra': 1 })).toEqual({ type: 'string', maxLength: 3 });
    expect(normalizeJsonSchema({ type: 'integer', exclusiveMinimum: 0, exclusiveMaximum: 10.5 })).toEqual({ type: 'integer', minimum: 1, maximum: 10 });
    expect(normalizeJsonSchema({ type: ['string', 'null'], maxLength: 2 })).toEqual({ anyOf: [{ type: 'string', maxLength: 2 }, { type: 'null' }] });
    expect(normalizeJsonSchema({ type: 'integer', minLength: 3 })).toEqual({ type: 'integer' });
    expect(normalizeJsonSchema({ type: 'object', propertyNames: { type: 'string' }, additionalProperties: { type: 'boolean' } })).toEqual({ type: 'object', additionalProperties: { type: 'boolean' } });
    expect(normalizeJsonSchema({ type: 'object', properties: { a: { $ref: '#/definitions/d' } }, definitions: { d: { type: 'null' } } })).toEqual({
      type: 'object', properties: { a: { $ref: '#/$defs/definitions.d' } }, $defs: { 'definitions.d': { type: 'null' } },
    });
  });

  it('compiles each grammar once, keeps the most recent ones, recompiles a dropped one on demand', async () => {
    const small = await ConstrainedDecoding.create(tok, { cacheSize: 2 });
    const schema = { type: 'object', properties: { cached: { type: 'boolean' } }, required: ['cached'] };
    const format = (name: string, s: Schema, strict = true) => ({ type: 'json_schema', json_schema: { name, schema: s, strict } });
    const a = await small.compileResponseFormat(format('a', schema));
    const b = await small.compileResponseFormat(format('b', { ...schema, description: 'same constraints' }));
    expect(b!.ebnf).toBe(a!.ebnf);
    expect(small.cachedGrammars).toBe(1);
    const c = await small.compileResponseFormat(format('c', schema, false));
    expect(c!.ebnf).not.toBe(a!.ebnf); // not strict: extra properties allowed
    await small.compileResponseFormat(format('d', { type: 'null' }));
    expect(small.cachedGrammars).toBe(2); // a's tables were dropped
    const m = await small.matcher(a!);
    expect([...new TextEncoder().encode('{"cached":true}')].every((byte) => m.accept(3 + byte)) && m.accept(tok.eosId!)).toBe(true);
    m.dispose();
    small.dispose();
  });
});

/** Whether the grammar accepts exactly `text` then EOS, fed as <0xNN> byte tokens (one per UTF-8 byte). */
async function acceptsText(compiled: CompiledResponseFormat, text: string): Promise<boolean> {
  const m = await cd.matcher(compiled);
  try {
    return [...new TextEncoder().encode(text)].every((b) => m.accept(3 + b)) && m.accept(tok.eosId!);
  } finally {
    m.dispose();
  }
}

describe('the grammar accepts exactly the valid texts', () => {
  const cases: { schema: Schema; strict?: boolean; valid: string[]; invalid: string[] }[] = [
    {
      // Extra keys (not strict) come after the defined ones and never repeat a defined name.
      schema: { type: 'object', properties: { a: { type: 'boolean' }, ab: { type: 'null' } }, additionalProperties: { type: 'integer', minimum: 0, maximum: 9 } },
      strict: false,
      valid: ['{}', '{"a":true}', '{"a":true,"ab":null}', '{"ab":null}', '{"a":false,"b":1}', '{"abc":2}', '{"":3}', '{"a":true, "ab":null ,"x":4,"y":5}', '{"é":1}'],
      invalid: ['{"a":true,"a":false}', '{"ab":null,"a":true}', '{"x":1,"a":true}', '{"a":1}', '{"x":10}', '{"a":true,"ab":null,"ab":1}', '{"a\\"":1}', '{"a":true,}'],
    },
    {
      // Property names that need escaping in JSON, in schema order; optional ones may be left out.
      schema: { type: 'object', properties: { 'q"uote': { type: 'null' }, 'tab\there': { type: 'null' }, 'é': { type: 'null' }, '': { type: 'null' } }, required: ['é'] },
      strict: true,
      valid: ['{"q\\"uote":null,"tab\\there":null,"é":null,"":null}', '{"é":null}', '{ "é" : null }'],
      invalid: ['{}', '{"q"uote":null,"é":null}', '{"tab\there":null,"é":null}', '{"é":null,"q\\"uote":null}', '{"é":null,"x":null}'],
    },
    {
      schema: { type: 'string', maxLength: 3 },
      valid: ['""', '"abc"', '"é🦙x"'],
      invalid: ['"abcd"', '"a\\nb"', '"a\tb"', ' "a"', '"a" '],
    },
    {
      schema: { type: 'array', items: { type: 'string', format: 'date' }, minItems: 1, maxItems: 2 },
      valid: ['["2024-02-28"]', '["1999-12-31","2000-04-30"]', '[ "0001-01-01" ]'],
      invalid: ['[]', '["2024-02-29"]', '["2024-02-30"]', '["2024-04-31"]', '["2024-13-01"]', '["2024-1-01"]', '["a","b","c"]'],
    },
    {
      schema: { type: 'string', format: 'date-time' },
      valid: ['"2024-05-06T07:08:09Z"', '"2024-05-06T23:59:59.123456+05:30"'],
      invalid: ['"2024-05-06T24:00:00Z"', '"2024-05-06T07:08:60Z"', '"2024-05-06 07:08:09Z"', '"2024-05-06T07:08:09"'],
    },
    {
      schema: { enum: ['a', 'ab', 1, 12, null, { k: ['v'] }, 'q"\\\u0001'] },
      valid: ['"a"', '"ab"', '1', '12', 'null', '{"k":["v"]}', '"q\\"\\\\\\u0001"'],
      invalid: ['"abc"', '"b"', '123', '2', '{"k":["v"] }', '"q\\"\\\\"'],
    },
    {
      schema: { type: 'array', prefixItems: [{ type: 'integer', minimum: -3, maximum: 3 }, { type: 'boolean' }], items: { type: 'null' }, minItems: 1, maxItems: 4 },
      valid: ['[-3]', '[3,true]', '[0,false,null,null]'],
      invalid: ['[]', '[4]', '[-0]', '[0,false,null,null,null]', '[0,null]', '[true]'],
    },
    {
      schema: { type: 'number' },
      valid: ['0', '-1.5e+10', '12.0', '3E-2'],
      invalid: ['01', '1.', '.5', '+1', '-', 'NaN', '1e'],
    },
  ];
  for (const [i, { schema, strict, valid, invalid }] of cases.entries()) {
    it(`case ${i + 1}: ${JSON.stringify(schema).slice(0, 60)}`, async () => {
      const compiled = (await cd.compileResponseFormat({ type: 'json_schema', json_schema: { name: 'exact', schema, strict: strict ?? true } }))!;
      for (const text of valid) {
        expect(validate(schema, JSON.parse(text), schema, strict ?? true), text).toEqual([]);
        expect(await acceptsText(compiled, text), `should accept ${text}`).toBe(true);
      }
      for (const text of invalid) expect(await acceptsText(compiled, text), `should refuse ${text}`).toBe(false);
    });
  }
});

describe('integer bounds (the XGrammar converter renders 126…133 as 120…139)', () => {
  it('accept exactly the integers within the bounds, as text', async () => {
    const idOf = new Map<string, number>();
    for (let id = 0; id < tok.vocabSize; id++) idOf.set(tok.tokenString(id), id);
    const cases: [Schema, number, number][] = [
      [{ minimum: 126, maximum: 133 }, 126, 133],
      [{ minimum: 55526, maximum: 55533 }, 55526, 55533],
      [{ exclusiveMinimum: -34, exclusiveMaximum: -25 }, -33, -26],
      [{ minimum: -5, maximum: 13 }, -5, 13],
      [{ minimum: 95.5, maximum: 105 }, 96, 105],
      [{ maximum: -1000 }, -integerLimit, -1000],
      [{ minimum: 999 }, 999, integerLimit],
    ];
    for (const [bounds, lo, hi] of cases) {
      const compiled = await cd.compileResponseFormat({ type: 'json_schema', json_schema: { name: 'n', schema: { type: 'integer', ...bounds }, strict: true } });
      const probes = [lo - 1, lo, lo + 1, Math.round((lo + hi) / 2), hi - 1, hi, hi + 1, lo - 10, hi + 10, -lo, 0];
      for (const n of probes) {
        const m = await cd.matcher(compiled!);
        const accepted = [...String(n)].every((ch) => m.accept(idOf.get(ch)!)) && m.accept(tok.eosId!);
        m.dispose();
        expect(accepted, `${JSON.stringify(bounds)}: ${n}`).toBe(n >= lo && n <= hi);
      }
    }
  });
});

describe('random logits under the mask always give valid JSON', () => {
  it('json_object: an object, from argmax and from sampling', async () => {
    const compiled = await cd.compileResponseFormat({ type: 'json_object' });
    for (let seed = 1; seed <= 6; seed++) {
      const out = await decode(compiled!, { seed, pick: seed % 2 ? 'argmax' : 'sample', wrapUpAfter: 60 });
      expect(out.terminated, JSON.stringify(out.text)).toBe(true);
      const value = JSON.parse(out.text);
      expect(typeof value === 'object' && value !== null && !Array.isArray(value), out.text).toBe(true);
    }
  });

  it('json_schema without a schema is json_object', async () => {
    const compiled = await cd.compileResponseFormat({ type: 'json_schema', json_schema: { name: 'any' } });
    const out = await decode(compiled!, { seed: 9, wrapUpAfter: 40 });
    expect(JSON.parse(out.text)).toBeTypeOf('object');
  });

  const person = {
    type: 'object',
    properties: {
      name: { type: 'string', minLength: 1, maxLength: 12 },
      age: { type: 'integer', minimum: 0, maximum: 130 },
      email: { type: ['string', 'null'], maxLength: 20 },
      born: { type: 'string', format: 'date' },
      tags: { type: 'array', items: { enum: ['a', 'b', 'c'] }, maxItems: 3 },
      address: {
        type: 'object',
        properties: { city: { type: 'string', maxLength: 8 }, zip: { type: 'integer', exclusiveMinimum: 999, exclusiveMaximum: 100000 }, geo: { type: 'array', prefixItems: [{ type: 'number' }, { type: 'number' }], items: false, minItems: 2 } },
        required: ['city', 'zip', 'geo'],
        additionalProperties: false,
      },
    },
    required: ['name', 'age', 'email', 'born', 'tags', 'address'],
    additionalProperties: false,
  };
  const seeds = [1, 2, 3].map((seed) => ({ seed, pick: seed === 2 ? ('sample' as const) : ('argmax' as const) }));

  it('a nested object with lengths, bounds, a date, an enum array, a nullable string and a tuple', async () => {
    await expectValidOutputs(person, true, seeds);
  });

  it('what zod 4 emits for discriminated unions, tuples, literals and safe integers', async () => {
    // z.toJSONSchema of discriminatedUnion, tuple, literal, int(), uuid/datetime minus their pattern.
    const zodLike = {
      $schema: 'https://json-schema.org/draft/2020-12/schema',
      type: 'object',
      properties: {
        shape: {
          oneOf: [
            { type: 'object', properties: { kind: { type: 'string', const: 'circle' }, r: { type: 'integer', minimum: -9007199254740991, maximum: 9007199254740991 } }, required: ['kind', 'r'], additionalProperties: false },
            { type: 'object', properties: { kind: { type: 'string', const: 'dot' } }, required: ['kind'], additionalProperties: false },
          ],
        },
        pair: { type: 'array', prefixItems: [{ type: 'boolean' }, { type: 'null' }], items: false, minItems: 2, maxItems: 2 },
        id: { type: 'string', format: 'uuid' },
        at: { type: 'string', format: 'date-time' },
      },
      required: ['shape', 'pair', 'id', 'at'],
      additionalProperties: false,
    };
    await expectValidOutputs(zodLike, true, seeds);
  });

  it('anyOf, type unions, const values, $ref to $defs and to the root, non-strict objects', async () => {
    const tree = {
      type: 'object',
      properties: {
        value: { anyOf: [{ type: 'integer', minimum: -3, maximum: 3 }, { const: { weird: 'q"\\\u0001é', n: [1.5, -2e-7, null] } }, { type: 'boolean' }] },
        left: { anyOf: [{ $ref: '#' }, { type: 'null' }] },
        leaf: { $ref: '#/$defs/leaf' },
      },
      required: ['value', 'leaf'],
      additionalProperties: false,
      $defs: { leaf: { type: ['string', 'integer', 'null'], maxLength: 3, minimum: 7, maximum: 9 } },
    };
    await expectValidOutputs(tree, true, seeds);
    // Not strict: additionalProperties stays as written (false here), optional ones may be absent.
    await expectValidOutputs({ type: 'object', properties: { on: { type: 'boolean' } }, additionalProperties: false }, false, seeds);
  });

  it('formats: date, time, date-time and uuid', async () => {
    const schema = { type: 'array', items: { anyOf: ['date', 'time', 'date-time', 'uuid'].map((format) => ({ type: 'string', format })) }, minItems: 4, maxItems: 4 };
    await expectValidOutputs(schema, true, seeds);
  });
});

// ---- property: random schemas --------------------------------------------------------------

const keyArb = fc.oneof(
  fc.string({ minLength: 1, maxLength: 6 }),
  fc.string({ unit: 'grapheme', minLength: 1, maxLength: 3 }),
  fc.string({ unit: 'binary-ascii', minLength: 1, maxLength: 3 }),
);
const literalArb = fc.oneof(fc.string({ maxLength: 5 }), fc.string({ unit: 'binary-ascii', maxLength: 4 }), fc.integer({ min: -1000, max: 1000 }), fc.boolean(), fc.constant(null));

const leafArb: fc.Arbitrary<Schema> = fc.oneof(
  fc.record({ type: fc.constant('string'), maxLength: fc.integer({ min: 0, max: 6 }) }).chain((s) => fc.integer({ min: 0, max: s.maxLength }).map((minLength) => ({ ...s, minLength }))),
  fc.constantFrom('date', 'time', 'date-time', 'uuid').map((format) => ({ type: 'string', format })),
  fc.constant({ type: 'number' }),
  fc.constant({ type: 'boolean' }),
  fc.constant({ type: 'null' }),
  fc.record({ type: fc.constant('integer'), minimum: fc.integer({ min: -100000, max: 100000 }), span: fc.nat(1000000) }).map(({ minimum, span }) => ({ type: 'integer', minimum, maximum: minimum + span })),
  fc.record({ type: fc.constant('integer'), exclusiveMinimum: fc.double({ min: -50, max: 50, noNaN: true }) }),
  fc.constant({ type: 'integer' }),
  fc.uniqueArray(literalArb, { minLength: 1, maxLength: 4, selector: (v) => JSON.stringify(v) }).map((values) => ({ enum: values })),
  fc.jsonValue({ maxDepth: 2 }).map((value) => ({ const: JSON.parse(JSON.stringify(value)) })),
  fc.record({ type: fc.constant(['string', 'null']), maxLength: fc.integer({ min: 0, max: 4 }) }),
);

const schemaArb: fc.Arbitrary<Schema> = fc.letrec<{ schema: Schema }>((tie) => ({
  schema: fc.oneof(
    { depthSize: 'small', withCrossShrink: true },
    leafArb,
    fc
      .uniqueArray(fc.tuple(keyArb, tie('schema')), { minLength: 0, maxLength: 4, selector: ([k]) => k })
      .chain((entries) =>
        fc
          .tuple(fc.subarray(entries.map(([k]) => k)), fc.constantFrom<unknown>(false, false, { type: 'null' }, { type: 'integer', minimum: 0, maximum: 5 }, undefined))
          .map(([required, additionalProperties]) => ({
            type: 'object',
            properties: Object.fromEntries(entries),
            required,
            ...(additionalProperties !== undefined && { additionalProperties }),
          })),
      ),
    fc.record({ type: fc.constant('array'), items: tie('schema'), maxItems: fc.integer({ min: 0, max: 3 }) }).chain((s) => fc.integer({ min: 0, max: s.maxItems }).map((minItems) => ({ ...s, minItems }))),
    fc.array(tie('schema'), { minLength: 1, maxLength: 3 }).map((prefixItems) => ({ type: 'array', prefixItems, items: false, minItems: prefixItems.length })),
    fc.array(tie('schema'), { minLength: 2, maxLength: 3 }).map((anyOf) => ({ anyOf })),
    fc.tuple(keyArb.filter((k) => k !== 'body'), fc.uniqueArray(fc.string({ maxLength: 4 }), { minLength: 2, maxLength: 3 }), tie('schema')).map(([tag, kinds, body]) => ({
      oneOf: kinds.map((kind) => ({ type: 'object', properties: { [tag]: { const: kind }, body }, required: [tag, 'body'], additionalProperties: false })),
    })),
  ),
})).schema;

describe('property: random JSON schemas', () => {
  it('200 random schemas, each decoded from random logits, always yield output that parses and validates', async () => {
    let tokens = 0;
    const started = performance.now();
    await fc.assert(
      fc.asyncProperty(schemaArb, fc.boolean(), fc.nat(), fc.boolean(), async (schema, strict, seed, sample) => {
        const root = { $defs: {}, ...schema };
        const compiled = await cd.compileResponseFormat({ type: 'json_schema', json_schema: { name: 'random', schema: root, strict } });
        // Extra keys and values (objects that are not strict) are unbounded: wrap up after 300 tokens.
        const out = await decode(compiled!, { seed, pick: sample ? 'sample' : 'argmax', maxSteps: 2000, wrapUpAfter: 300 });
        tokens += out.ids.length;
        const context = `text ${JSON.stringify(out.text)}`;
        if (!out.terminated) throw new Error(`did not finish in 2000 tokens: ${context}`);
        const value = JSON.parse(out.text);
        const errors = validate(root, value, root, strict);
        if (errors.length > 0) throw new Error(`${errors.join('; ')}; ${context}`);
      }),
      { numRuns: 200, seed: 20240917 },
    );
    console.log(`property test: 200 schemas, ${tokens} tokens in ${((performance.now() - started) / 1000).toFixed(1)} s`);
  });
});
