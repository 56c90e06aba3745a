// Tokenizer, streaming detokenizer and stop sequences. The real Mistral v1 tokenizer files come
// from make-tiny (a 32000-vocab model with tiny weights) and are checked against
// an independent implementation, mistral-tokenizer-js, and against known Mistral ids.
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import mistralTokenizerJs from 'mistral-tokenizer-js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { StopMatcher } from '../src/tokenizer/stop_sequences.ts';
import { TextStream } from '../src/tokenizer/text_stream.ts';
import { ChatTemplateError, Tokenizer, type ChatMessage } from '../src/tokenizer/tokenizer.ts';
import { makeTiny } from '../weights-tools/make_tiny.ts';
import { Sfc32 } from '../src/node/prng.ts';

let tmp = '';
let tok: Tokenizer;
/** The same files with the chat_template removed: the built-in Mistral format takes over. */
let templateless: Tokenizer;
let toy: Tokenizer;

const readJson = (file: string): Record<string, unknown> => JSON.parse(fs.readFileSync(file, 'utf8'));

beforeAll(async () => {
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'sirocco-tokenizer-'));
  // Mistral v1's vocab (32000) with throwaway-sized weights.
  const shrink = { hidden: 8, intermediate: 8, layers: 1, heads: 1, kvHeads: 1, headDim: 8, experts: 0, vocab: 32000, quiet: true };
  await makeTiny({ preset: 'sirocco-default', out: path.join(tmp, 'mistral'), ...shrink });
  await makeTiny({ preset: 'mistral-tiny', out: path.join(tmp, 'toy'), quiet: true });
  tok = await Tokenizer.load(path.join(tmp, 'mistral'));
  toy = await Tokenizer.load(path.join(tmp, 'toy'));
  const { chat_template: _dropped, ...config } = readJson(path.join(tmp, 'mistral', 'tokenizer_config.json'));
  templateless = Tokenizer.fromJson(readJson(path.join(tmp, 'mistral', 'tokenizer.json')), config);
});
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

const samples = [
  'Hello world!',
  'grabbed',
  ' grabbed',
  '           grabbed',
  ' ',
  '   leading spaces',
  'trailing spaces   ',
  'multiple   inner    spaces',
  '\n',
  ' \n',
  'line one\nline two\n\nafter a blank line\n',
  '\ttabs\t\tand\r\nCRLF',
  'digits 0123456789, 3.14159, 1,000,000 and 2024-11-24',
  'naïve café, façade, Ünïcödé',
  '日本語のテキストと中文文本',
  '한국어 텍스트',
  'Привет, мир! Ελληνικά',
  'emoji 🦙😀👍🏽🇫🇷 and ZWJ 👩‍💻',
  'Ꙋ🦙',
  '镇',
  'ax\n####\nboo',
  'The llama (/ˈlɑːmə/; 🦙Spanish pronunciation: [ˈʎama]) is a domesticated South American camelid.',
  'code: `const x = a[i] + b?.c ?? {};` // comment',
  '\uFFFD replacement char',
];

describe('Mistral v1 tokenizer files', () => {
  it('load with the real vocabulary, specials and config', () => {
    expect(tok.vocabSize).toBe(32000);
    expect(tok.bosId).toBe(1);
    expect(tok.eosId).toBe(2);
    expect([0, 1, 2].map((id) => tok.tokenString(id))).toEqual(['<unk>', '<s>', '</s>']);
    const json = readJson(path.join(tmp, 'mistral', 'tokenizer.json')) as { model: { type: string; byte_fallback: boolean; merges: string[] } };
    expect(json.model.type).toBe('BPE');
    expect(json.model.byte_fallback).toBe(true);
    expect(json.model.merges.slice(0, 3)).toEqual(['▁ t', 'i n', 'e r']);
    expect(readJson(path.join(tmp, 'mistral', 'tokenizer_config.json'))).toMatchObject({
      bos_token: '<s>', eos_token: '</s>', unk_token: '<unk>', add_bos_token: true, add_eos_token: false, model_max_length: 4096,
    });
  });

  it('encodes "Hello world!" to the ids Mistral models were trained on', () => {
    expect(tok.encode('Hello world!')).toEqual([1, 22557, 1526, 28808]);
    expect(tok.encode('Hello world!', { addSpecialTokens: false })).toEqual([22557, 1526, 28808]);
    expect(tok.tokenString(22557)).toBe('▁Hello');
    expect(tok.tokenString(13)).toBe('<0x0A>');
  });

  it('agrees with mistral-tokenizer-js on varied text', () => {
    for (const text of samples) expect(tok.encode(text), JSON.stringify(text)).toEqual(mistralTokenizerJs.encode(text));
    // Characters outside the vocabulary fall back to their UTF-8 bytes (<0xNN> = id byte + 3).
    expect(tok.encode('🦙', { addSpecialTokens: false })).toEqual([28705, ...[0xf0, 0x9f, 0xa6, 0x99].map((b) => b + 3)]);
  });

  it('maps special tokens written in the text to their ids', () => {
    expect(tok.encode('<s>Hi</s>', { addSpecialTokens: false })).toEqual([1, ...tok.encode('Hi', { addSpecialTokens: false }), 2]);
  });

  it('decodes back to the original text', () => {
    for (const text of samples) {
      const ids = tok.encode(text);
      expect(tok.decode(ids, { skipSpecialTokens: true }), JSON.stringify(text)).toBe(text);
      expect(tok.decode(ids)).toBe(`<s>${text.length > 0 ? ` ${text}` : ''}`);
    }
    expect(tok.decode([])).toBe('');
    expect(tok.decode([22557, 2, 1526], { skipSpecialTokens: true })).toBe('Hello world');
  });

  it('gives each token its piece and its UTF-8 bytes', () => {
    expect(tok.tokenBytes(22557)).toEqual([...Buffer.from(' Hello')]);
    expect(tok.tokenBytes(13)).toEqual([0x0a]);
    expect(tok.tokenBytes(0xf0 + 3)).toEqual([0xf0]); // one byte of a 4-byte character
    expect(tok.tokenBytes(28705)).toEqual([0x20]);
    expect(tok.tokenBytes(2)).toEqual([...Buffer.from('</s>')]);
    // The bytes of all tokens of a text are the text's bytes (plus the prepended space).
    for (const text of samples) {
      const bytes = tok.encode(text, { addSpecialTokens: false }).flatMap((id) => tok.tokenBytes(id));
      expect(Buffer.from(bytes).toString('utf8')).toBe(` ${text}`);
    }
    expect(() => tok.tokenString(32000)).toThrow(RangeError);
    expect(() => tok.tokenString(-1)).toThrow(RangeError);
  });
});

describe('chat prompts', () => {
  const conversation: ChatMessage[] = [
    { role: 'system', content: 'You are terse.' },
    { role: 'user', content: 'What is 2+2?' },
    { role: 'assistant', content: 'Four.' },
    { role: 'user', content: 'And 3+3?' },
  ];
  const expected = '<s>[INST] You are terse.\n\nWhat is 2+2? [/INST] Four.</s>[INST] And 3+3? [/INST]';

  it('renders the Mistral [INST] format with one BOS', () => {
    const ids = tok.chatPrompt(conversation);
    expect(ids).toEqual(tok.encode(expected, { addSpecialTokens: false }));
    expect(ids[0]).toBe(1);
    expect(ids.filter((id) => id === 1)).toHaveLength(1);
    expect(ids.filter((id) => id === 2)).toHaveLength(1);
    // <s> ▁[ INST ] … ▁[ / INST ]: the ids of the real Mistral instruct prompt.
    expect(ids.slice(0, 4)).toEqual([1, 733, 16289, 28793]);
    expect(ids.slice(-4)).toEqual([733, 28748, 16289, 28793]);
    expect(tok.decode(ids, { skipSpecialTokens: true })).toBe('[INST] You are terse.\n\nWhat is 2+2? [/INST] Four. [INST] And 3+3? [/INST]');
  });

  it('renders the same without a chat template (built-in Mistral format)', () => {
    const cases: ChatMessage[][] = [
      conversation,
      conversation.slice(1),
      [{ role: 'user', content: 'Hi' }],
      [{ role: 'system', content: 'Only a system prompt' }],
      [{ role: 'user', content: 'Hi' }, { role: 'assistant', content: 'Hello' }],
    ];
    for (const messages of cases) expect(templateless.chatPrompt(messages)).toEqual(tok.chatPrompt(messages));
    expect(tok.chatPrompt([{ role: 'system', content: 'S' }])).toEqual(tok.encode('<s>[INST] S [/INST]', { addSpecialTokens: false }));
    // The toy tokenizer has no template either.
    expect(toy.chatPrompt([{ role: 'user', content: 'Hi' }])).toEqual(toy.encode('<s>[INST] Hi [/INST]', { addSpecialTokens: false }));
  });

  it('refuses conversations that break the format with ChatTemplateError', () => {
    const bad: [ChatMessage[], RegExp][] = [
      [[{ role: 'user', content: 'a' }, { role: 'user', content: 'b' }], /alternate/],
      [[{ role: 'assistant', content: 'a' }], /alternate/],
      [[{ role: 'system', content: 's' }, { role: 'assistant', content: 'a' }], /alternate/],
      [[{ role: 'user', content: 'a' }, { role: 'system', content: 's' }], /system message may only come first/],
    ];
    for (const t of [tok, templateless]) {
      for (const [messages, message] of bad) {
        expect(() => t.chatPrompt(messages)).toThrow(ChatTemplateError);
        expect(() => t.chatPrompt(messages)).toThrow(message);
      }
    }
  });
});

describe('loading errors', () => {
  it('name the file at fault', async () => {
    const dir = path.join(tmp, 'broken');
    fs.mkdirSync(dir);
    await expect(Tokenizer.load(dir)).rejects.toThrow(path.join(dir, 'tokenizer.json'));
    fs.copyFileSync(path.join(tmp, 'toy', 'tokenizer.json'), path.join(dir, 'tokenizer.json'));
    fs.writeFileSync(path.join(dir, 'tokenizer_config.json'), '{ not json');
    await expect(Tokenizer.load(dir)).rejects.toThrow(new RegExp(`${path.join(dir, 'tokenizer_config.json')} is not valid JSON`));
    fs.writeFileSync(path.join(dir, 'tokenizer_config.json'), JSON.stringify({ chat_template: '{% if %}' }));
    await expect(Tokenizer.load(dir)).rejects.toThrow(`${path.join(dir, 'tokenizer_config.json')}: chat_template does not parse`);
    fs.writeFileSync(path.join(dir, 'tokenizer_config.json'), JSON.stringify({ eos_token: 7 }));
    await expect(Tokenizer.load(dir)).rejects.toThrow(`${path.join(dir, 'tokenizer_config.json')}: eos_token`);
    fs.writeFileSync(path.join(dir, 'tokenizer.json'), JSON.stringify({ version: '1.0' }));
    await expect(Tokenizer.load(dir)).rejects.toThrow(`${path.join(dir, 'tokenizer.json')}: model`);
    // No config at all is fine: the conventional <s> / </s> are found.
    fs.rmSync(path.join(dir, 'tokenizer_config.json'));
    fs.copyFileSync(path.join(tmp, 'toy', 'tokenizer.json'), path.join(dir, 'tokenizer.json'));
    const bare = await Tokenizer.load(dir);
    expect([bare.vocabSize, bare.bosId, bare.eosId]).toEqual([512, 1, 2]);
  });
});

/** Pushes ids one by one; returns every push result and the flush. */
function stream(t: Tokenizer, ids: readonly number[], skipSpecialTokens: boolean): string[] {
  const s = new TextStream(t, { skipSpecialTokens });
  return [...ids.map((id) => s.push(id)), s.flush()];
}

describe('TextStream', () => {
  it('holds back a character until its last byte token arrives', () => {
    const ids = tok.encode('Hi 🦙!', { addSpecialTokens: false }); // ▁Hi ▁ <0xF0> <0x9F> <0xA6> <0x99> !
    expect(ids.map((id) => tok.tokenString(id))).toEqual(['▁Hi', '▁', '<0xF0>', '<0x9F>', '<0xA6>', '<0x99>', '!']);
    expect(stream(tok, ids, false)).toEqual(['Hi', ' ', '', '', '', '🦙', '!', '']);
    // Cut off mid-character: flush gives what decode gives, a replacement character.
    expect(stream(tok, ids.slice(0, 4), false)).toEqual(['Hi', ' ', '', '', '\uFFFD']);
  });

  it('drops only the first space of the whole text', () => {
    expect(stream(tok, [1, 22557, 1526], true)).toEqual(['', 'Hello', ' world', '']);
    expect(stream(tok, [1, 22557, 1526], false)).toEqual(['<s>', ' Hello', ' world', '']);
    expect(stream(tok, [28705, 28705, 22557], false).join('')).toBe('  Hello');
  });

  it('reassembles exactly what decode gives for random token sequences', () => {
    const rng = new Sfc32(1, 2, 3);
    const pick = <T>(items: readonly T[]): T => items[rng.next() % items.length];
    // Pieces of real text (with byte-fallback emoji and CJK), lone and broken byte tokens,
    // spaces, specials, the literal U+FFFD piece and arbitrary ids.
    const texts = ['Hello world', ' 🦙😀 emoji', '日本語 中文', '  spaced  out ', 'é\nñ\n', '👍🏽 👩‍💻', '镇'];
    const fragments = texts.map((text) => tok.encode(text, { addSpecialTokens: false }));
    const loose = [0, 1, 2, 13, 28705, 259, 29137, 3 + 0xf0, 3 + 0x9f, 3 + 0xe6, 3 + 0x80, 3 + 0xff, 3 + 0x41];
    for (let round = 0; round < 400; round++) {
      const ids: number[] = [];
      const length = 1 + (rng.next() % 24);
      while (ids.length < length) {
        const r = rng.next() % 10;
        if (r < 5) ids.push(...pick(fragments));
        else if (r < 8) ids.push(pick(loose));
        else ids.push(rng.next() % 32000);
      }
      for (const skip of [false, true]) {
        expect(stream(tok, ids, skip).join(''), `${JSON.stringify(ids)} skip=${skip}`).toBe(tok.decode(ids, { skipSpecialTokens: skip }));
      }
    }
    // The toy tokenizer: byte tokens and ▁t<id> fillers only.
    for (let round = 0; round < 200; round++) {
      const ids = Array.from({ length: 1 + (rng.next() % 30) }, () => rng.next() % toy.vocabSize);
      for (const skip of [false, true]) expect(stream(toy, ids, skip).join('')).toBe(toy.decode(ids, { skipSpecialTokens: skip }));
    }
  });

  it('never emits text that a later token changes', () => {
    const text = 'Mixed: 日本 🦙 done\n';
    const ids = tok.encode(text, { addSpecialTokens: false });
    const parts = stream(tok, ids, false);
    let sofar = '';
    parts.slice(0, -1).forEach((part, i) => {
      sofar += part;
      expect(tok.decode(ids.slice(0, i + 1)).startsWith(sofar)).toBe(true);
    });
    expect(parts.join('')).toBe(text);
  });
});

/** Feeds the chunks; returns the emitted text, whether it stopped, and the flush. */
function matchStops(stops: string[], chunks: string[]): { text: string; stopped: boolean } {
  const m = new StopMatcher(stops);
  let text = '';
  for (const chunk of chunks) {
    const r = m.push(chunk);
    text += r.emit;
    if (r.stopped) return { text, stopped: true };
  }
  return { text: text + m.flush(), stopped: false };
}

describe('StopMatcher', () => {
  it('stops at a stop string inside one chunk, without emitting it', () => {
    expect(matchStops(['STOP'], ['Hello STOP world'])).toEqual({ text: 'Hello ', stopped: true });
    expect(matchStops(['\n'], ['line one', '\nline two'])).toEqual({ text: 'line one', stopped: true });
  });

  it('stops at a stop string spanning chunks, holding its beginning back', () => {
    const m = new StopMatcher(['</answer>']);
    expect(m.push('42 </')).toEqual({ emit: '42 ', stopped: false });
    expect(m.push('ans')).toEqual({ emit: '', stopped: false });
    expect(m.push('wer> trailing')).toEqual({ emit: '', stopped: true });
    expect(m.push('more')).toEqual({ emit: '', stopped: true });
    expect(m.flush()).toBe('');
  });

  it('emits a held-back beginning once it cannot be a stop string', () => {
    const m = new StopMatcher(['STOP']);
    expect(m.push('go ST')).toEqual({ emit: 'go ', stopped: false });
    expect(m.push('O')).toEqual({ emit: '', stopped: false });
    expect(m.push('RM!')).toEqual({ emit: 'STORM!', stopped: false });
    expect(m.push('ST')).toEqual({ emit: '', stopped: false });
    expect(m.flush()).toBe('ST'); // generation ended: it was text after all
    expect(matchStops(['abc'], ['a', 'a', 'b', 'x', 'ab', 'ab', 'c'])).toEqual({ text: 'aabxab', stopped: true });
  });

  it('stops at the earliest of several stop strings', () => {
    expect(matchStops(['world', 'lo'], ['hello world'])).toEqual({ text: 'hel', stopped: true });
    expect(matchStops(['world', 'lo'], ['hel', 'l', 'o world'])).toEqual({ text: 'hel', stopped: true });
    expect(matchStops(['xyz', 'b'], ['axy', 'zb'])).toEqual({ text: 'a', stopped: true });
    // The first to be completed wins, however the text is chunked.
    for (const chunks of [['abcd'], ['abc', 'd'], ['a', 'b', 'c', 'd']]) {
      expect(matchStops(['abcd', 'bc'], chunks)).toEqual({ text: 'a', stopped: true });
    }
  });

  it('passes everything through with no stop strings', () => {
    expect(matchStops([], ['any', 'thing', ''])).toEqual({ text: 'anything', stopped: false });
    expect(matchStops([''], ['still ', 'everything'])).toEqual({ text: 'still everything', stopped: false });
    const m = new StopMatcher([]);
    expect(m.push('abc')).toEqual({ emit: 'abc', stopped: false });
  });

  it('streams text and stops consistently with the whole text', () => {
    const text = 'The answer is 42.\n\nUser: next question';
    const ids = tok.encode(text, { addSpecialTokens: false });
    const ts = new TextStream(tok);
    const m = new StopMatcher(['\n\nUser:']);
    let out = '';
    let stopped = false;
    for (const id of ids) {
      const r = m.push(ts.push(id));
      out += r.emit;
      if ((stopped = r.stopped)) break;
    }
    expect({ out, stopped }).toEqual({ out: 'The answer is 42.', stopped: true });
  });
});
