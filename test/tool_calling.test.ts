// Tool calling's pure parts: reading a model's output into text and calls (tool_call_reader),
// and planning a request (tool_calling): what each tool_choice does to the prompt, the grammar
// and the sampled tokens, and the 400 for a model whose tokenizer has no tool tokens.
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { OpenAIError } from '../src/gateway/openai_error.ts';
import { ToolCallReader } from '../src/gateway/tool_call_reader.ts';
import { planTools } from '../src/gateway/tool_calling.ts';
import { Tokenizer } from '../src/tokenizer/tokenizer.ts';
import { makeTiny } from '../weights-tools/make_tiny.ts';
import { MISTRAL_CALL_ID, WEATHER_TOOLS } from './helpers/weather_tools.ts';

const CALLS = 5;
const TEXT = 100; // any ordinary token

/** Feeds (token, text) pairs and the tail; returns the content and calls seen. */
function read(forced: boolean, pieces: [number, string][], tail = '') {
  const reader = new ToolCallReader({ callsId: CALLS, forced });
  let content = '';
  const calls: { name: string; args: string; id: string }[] = [];
  const take = (r: { content: string; calls: { id: string; function: { name: string; arguments: string } }[] }) => {
    content += r.content;
    calls.push(...r.calls.map((c) => ({ name: c.function.name, args: c.function.arguments, id: c.id })));
  };
  for (const [token, text] of pieces) take(reader.push(token, text));
  const end = reader.finish(tail);
  take(end);
  return { content, calls, called: end.called };
}

/** A text cut into one-character tokens. */
const chars = (text: string): [number, string][] => [...text].map((c) => [TEXT, c]);

describe('ToolCallReader', () => {
  it('reads calls after [TOOL_CALLS], each as soon as its object closes', () => {
    const reader = new ToolCallReader({ callsId: CALLS, forced: false });
    expect(reader.push(TEXT, 'Let me check.').content).toBe('Let me check.');
    expect(reader.push(CALLS, '').calls).toEqual([]);
    expect(reader.push(TEXT, ' [{"name": "a", "arguments": {"x": "}]{["}}').calls).toHaveLength(1);
    const second = reader.push(TEXT, ', {"name": "b", "arguments": {}}');
    expect(second.calls.map((c) => [c.function.name, c.function.arguments])).toEqual([['b', '{}']]);
    expect(reader.finish(']')).toEqual({ content: '', calls: [], called: true });
    expect(reader.calls[0]!.function.arguments).toBe('{"x":"}]{["}');
    for (const call of reader.calls) expect(call.id).toMatch(MISTRAL_CALL_ID);
  });

  it('reads a forced list from the first token, split anywhere, escapes included', () => {
    const text = '[{"name": "get_weather", "arguments": {"city": "Pa\\"ris\\\\", "unit": "celsius"}}]';
    const out = read(true, chars(text));
    expect(out).toMatchObject({ content: '', called: true });
    expect(out.calls.map((c) => [c.name, JSON.parse(c.args)])).toEqual([['get_weather', { city: 'Pa"ris\\', unit: 'celsius' }]]);
  });

  it('reads a lone object as a list of one, and string arguments as they are', () => {
    expect(read(true, [[TEXT, '{"name": "f", "arguments": "{\\"a\\": 1}"}']]).calls.map((c) => c.args)).toEqual(['{"a": 1}']);
  });

  it('gives output that is not a call list back as content', () => {
    expect(read(false, [[TEXT, 'Hi '], [CALLS, ''], [TEXT, ' not json']])).toEqual({ content: 'Hi not json', calls: [], called: false });
    expect(read(false, [[CALLS, ''], [TEXT, '[{"arguments": {}}]']])).toMatchObject({ calls: [], called: false });
    // Without a mode (no tools), [TOOL_CALLS] is just a token.
    const plain = new ToolCallReader(null);
    expect(plain.push(CALLS, '').content).toBe('');
    expect(plain.push(TEXT, '[{"name": "f", "arguments": {}}]').content).toBe('[{"name": "f", "arguments": {}}]');
  });

  it('keeps the calls completed before a cut (finish_reason length)', () => {
    const out = read(true, chars('[{"name": "a", "arguments": {}}, {"name": "b", "argu'));
    expect(out.calls.map((c) => c.name)).toEqual(['a']);
    expect(out.called).toBe(true);
  });
});

describe('planTools', () => {
  let tmp = '';
  let v3: Tokenizer;
  let v1: Tokenizer;
  beforeAll(async () => {
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'sirocco-tools-'));
    const shrink = { hidden: 8, intermediate: 8, layers: 1, heads: 1, kvHeads: 1, headDim: 8, experts: 0, quiet: true };
    await makeTiny({ preset: 'sirocco-default', out: path.join(tmp, 'v3'), ...shrink });
    await makeTiny({ preset: 'sirocco-default', out: path.join(tmp, 'v1'), ...shrink, vocab: 32000 });
    [v3, v1] = await Promise.all([Tokenizer.load(path.join(tmp, 'v3')), Tokenizer.load(path.join(tmp, 'v1'))]);
  });
  afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));
  const user = [{ role: 'user' as const, content: 'Hi' }];

  it('required and named force [TOOL_CALLS] and the grammar; auto triggers it; none bans it', () => {
    const required = planTools({ tools: WEATHER_TOOLS, tool_choice: 'any' }, user, v3, 'm');
    expect(required).toMatchObject({ mode: { callsId: CALLS, forced: true }, promptSuffix: [CALLS], grammarTrigger: null, banned: [] });
    expect(required.tools.map((t) => t.function.name)).toEqual(['get_weather', 'get_time']);
    // A named function is exactly one call (OpenAI's meaning), whatever parallel_tool_calls says.
    const named = planTools({ tools: WEATHER_TOOLS, tool_choice: { type: 'function', function: { name: 'get_time' } } }, user, v3, 'm');
    const schema = (named.responseFormat as { json_schema: { schema: { items: { properties: { name: unknown } }; maxItems: number } } }).json_schema.schema;
    expect(schema.items.properties.name).toEqual({ const: 'get_time' });
    expect(schema.maxItems).toBe(1);
    expect(planTools({ tools: WEATHER_TOOLS }, user, v3, 'm')).toMatchObject({ mode: { forced: false }, promptSuffix: [], grammarTrigger: CALLS });
    expect(planTools({ tools: WEATHER_TOOLS, tool_choice: 'none' }, user, v3, 'm')).toMatchObject({ tools: [], mode: null, responseFormat: null, banned: [CALLS] });
    expect(planTools({ tools: [] }, user, v3, 'm')).toMatchObject({ tools: [], mode: null, banned: [] });
  });

  it('keeps each tool’s $defs apart in the call list’s schema', () => {
    const recursive = {
      type: 'function' as const,
      function: { name: 'tree', parameters: { $defs: { node: { type: 'object', properties: { kids: { type: 'array', items: { $ref: '#/$defs/node' }, maxItems: 2 } } } }, $ref: '#/$defs/node' } },
    };
    const plan = planTools({ tools: [recursive, WEATHER_TOOLS[0]!], tool_choice: 'required' }, user, v3, 'm');
    const text = JSON.stringify(plan.responseFormat);
    expect(text).toContain('"$ref":"#/$defs/tool0_node"');
    expect(text).not.toContain('"#/$defs/node"');
  });

  it('refuses tools for a model whose tokenizer has no tool tokens, naming the model', () => {
    const refusal = (f: () => unknown) => {
      try {
        f();
      } catch (err) {
        expect(err).toBeInstanceOf(OpenAIError);
        const e = err as OpenAIError;
        return `${e.status} ${e.param}: ${e.message}`;
      }
      return 'accepted';
    };
    expect(refusal(() => planTools({ tools: WEATHER_TOOLS }, user, v1, 'mistral-v1'))).toMatch(/^400 tools: The model 'mistral-v1' does not support tool calling/);
    const history = [...user, { role: 'tool' as const, content: 'r', tool_call_id: 'abcdefghi' }];
    expect(refusal(() => planTools({}, history, v1, 'mistral-v1'))).toMatch(/^400 messages: The model 'mistral-v1'/);
    expect(refusal(() => planTools({ tools: [], tool_choice: 'auto' }, user, v1, 'mistral-v1'))).toBe('accepted');
  });
});
