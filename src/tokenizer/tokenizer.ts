// A model's tokenizer, as both the gateway (prompt token counts, logprob bytes) and the node
// (prompts in, text out) use it: Hugging Face tokenizer.json + tokenizer_config.json run by
// @huggingface/tokenizers, plus the chat template. Token-level helpers (tokenString,
// tokenBytes) assume the sentencepiece convention every Mistral tokenizer we serve uses:
// ▁ is a space and <0xNN> pieces are single bytes.
import * as fs from 'node:fs/promises';
import * as path from 'node:path';
import { Tokenizer as HfTokenizer } from '@huggingface/tokenizers';
import type { ChatMessage, ChatTool } from './chat_messages.ts';
import { ChatTemplate, type ChatTemplateVariables } from './chat_template.ts';
import { mistralChatPrompt } from './mistral_chat_format.ts';
import { mistralV3ChatTemplate } from './mistral_v3_chat_template.ts';
import { describeIssues, tokenizerConfigSchema, tokenizerJsonSchema, type TokenizerConfig } from './tokenizer_file_schemas.ts';
import { INLINE_CHARS, TokenizerWorkers, type TokenizerSource } from './tokenizer_workers.ts';

export { ChatTemplateError, type ChatMessage, type ChatRole, type ChatTool, type ChatToolCall } from './chat_messages.ts';

/** The control tokens of Mistral's tool calling (v3 and later). */
export const TOOL_TOKENS = { calls: '[TOOL_CALLS]', available: '[AVAILABLE_TOOLS]', results: '[TOOL_RESULTS]' } as const;

const byteTokenPattern = /^<0x([0-9A-Fa-f]{2})>$/;
const utf8 = new TextEncoder();

/** The byte a <0xNN> piece stands for, or null for any other piece. */
export function byteOfPiece(piece: string): number | null {
  const match = byteTokenPattern.exec(piece);
  return match === null ? null : parseInt(match[1], 16);
}

/** A problem with one of the two files; load() names the file with its full path. */
class TokenizerFileError extends Error {
  constructor(
    readonly file: 'tokenizer.json' | 'tokenizer_config.json',
    readonly detail: string,
  ) {
    super(`${file}: ${detail}`);
  }
}

const exists = (file: string) => fs.access(file).then(() => true, () => false);

// The tokenizer files of a model directory, parsed: tokenizer.json (+ tokenizer_config.json),
// or, for Mistral's own layout with tokenizer.model.v1 / .v3, the same vocabulary built in
// (every Mistral model of a version shares it). Imported on demand: building one costs time.
export async function readTokenizerFiles(dir: string): Promise<{ tokenizer: unknown; config: unknown | null }> {
  const json = path.join(dir, 'tokenizer.json');
  if (!(await exists(json))) {
    if (await exists(path.join(dir, 'tokenizer.model.v1'))) {
      const v1 = await import('./mistral_v1_tokenizer.ts');
      return { tokenizer: v1.mistralV1TokenizerJson(), config: v1.mistralV1TokenizerConfigJson(32768) };
    }
    if (await exists(path.join(dir, 'tokenizer.model.v3'))) {
      const v3 = await import('./mistral_v3_tokenizer.ts');
      return { tokenizer: v3.mistralV3TokenizerJson(), config: v3.mistralV3TokenizerConfigJson(32768) };
    }
    if (await exists(path.join(dir, 'tekken.json')))
      throw new Error(`${path.join(dir, 'tekken.json')}: the tekken tokenizer format is not supported yet: add a Hugging Face tokenizer.json`);
  }
  const [tokenizer, config] = await Promise.all([readJsonFile(json, true), readJsonFile(path.join(dir, 'tokenizer_config.json'), false)]);
  return { tokenizer, config };
}

const messageOf = (error: unknown): string => (error instanceof Error ? error.message : String(error));

async function readJsonFile(file: string, required: boolean): Promise<unknown> {
  let text: string;
  try {
    text = await fs.readFile(file, 'utf8');
  } catch (error) {
    if (!required && (error as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw new Error(`cannot read ${file}: ${messageOf(error)}`);
  }
  try {
    return JSON.parse(text);
  } catch (error) {
    throw new Error(`${file} is not valid JSON: ${messageOf(error)}`);
  }
}

export class Tokenizer {
  /** Ids 0 … vocabSize-1 (base vocab and added tokens). */
  readonly vocabSize: number;
  /**
   * The most characters one token can stand for (a piece's length, ▁ and <0xNN> as one): a text
   * of C characters is at least C / maxTokenChars tokens, which refuses an oversized prompt
   * before any tokenizing work.
   */
  readonly maxTokenChars: number;
  readonly bosId: number | null;
  readonly eosId: number | null;
  /** Id of [TOOL_CALLS] when the model can call tools (it also has [AVAILABLE_TOOLS]), else null. */
  readonly toolCallsId: number | null;
  private readonly hf: HfTokenizer;
  private readonly pieces: string[];
  /** Ids dropped by decode({ skipSpecialTokens: true }). */
  private readonly specialIds: ReadonlySet<number>;
  private readonly chatTemplate: ChatTemplate | null;
  private readonly chatVars: ChatTemplateVariables;
  private workers: TokenizerWorkers | null = null; // made on the first long text

  private constructor(
    hf: HfTokenizer,
    config: TokenizerConfig | null,
    specialContents: readonly string[],
    private readonly source: TokenizerSource,
  ) {
    this.hf = hf;
    this.pieces = [];
    for (const [piece, id] of hf.get_vocab(true)) this.pieces[id] = piece;
    this.vocabSize = this.pieces.length;
    this.maxTokenChars = this.pieces.reduce((most, p) => Math.max(most, byteTokenPattern.test(p) ? 1 : [...p].length), 1);
    for (let id = 0; id < this.vocabSize; id++) {
      if (this.pieces[id] === undefined) {
        throw new TokenizerFileError('tokenizer.json', `no token has id ${id} (ids must run 0 … ${this.vocabSize - 1})`);
      }
    }
    this.specialIds = new Set(specialContents.flatMap((content) => hf.token_to_id(content) ?? []));

    // Without a config, fall back to the names sentencepiece-converted Llama/Mistral
    // tokenizers always use, so a bare tokenizer.json still knows where text ends.
    const bosToken = config === null ? '<s>' : config.bos_token;
    const eosToken = config === null ? '</s>' : config.eos_token;
    this.bosId = bosToken === null ? null : (hf.token_to_id(bosToken) ?? null);
    this.eosId = eosToken === null ? null : (hf.token_to_id(eosToken) ?? null);
    this.chatVars = { bosToken: bosToken ?? '', eosToken: eosToken ?? '' };
    const toolCallsId = hf.token_to_id(TOOL_TOKENS.calls) ?? null;
    this.toolCallsId = toolCallsId !== null && hf.token_to_id(TOOL_TOKENS.available) !== undefined ? toolCallsId : null;
    // Without a template, a vocabulary with tool tokens speaks Mistral's v3 format, one
    // without them the v1 format (mistral_chat_format.ts).
    const template = config?.chat_template ?? (this.toolCallsId !== null ? mistralV3ChatTemplate : null);
    try {
      this.chatTemplate = template ? new ChatTemplate(template) : null;
    } catch (error) {
      throw new TokenizerFileError('tokenizer_config.json', messageOf(error));
    }
  }

  /** Reads DIR/tokenizer.json and, when present, DIR/tokenizer_config.json. */
  static async load(dir: string): Promise<Tokenizer> {
    const { tokenizer: tokenizerJson, config: tokenizerConfig } = await readTokenizerFiles(dir);
    try {
      return Tokenizer.fromJson(tokenizerJson, tokenizerConfig);
    } catch (error) {
      if (error instanceof TokenizerFileError) throw new Error(`${path.join(dir, error.file)}: ${error.detail}`);
      throw error;
    }
  }

  /** From already parsed files (e.g. sent by a node to the gateway); null = no config file. */
  static fromJson(tokenizerJson: unknown, tokenizerConfig: unknown | null): Tokenizer {
    const json = tokenizerJsonSchema.safeParse(tokenizerJson);
    if (!json.success) throw new TokenizerFileError('tokenizer.json', describeIssues(json.error));
    let config: TokenizerConfig | null = null;
    if (tokenizerConfig !== null && tokenizerConfig !== undefined) {
      const parsed = tokenizerConfigSchema.safeParse(tokenizerConfig);
      if (!parsed.success) throw new TokenizerFileError('tokenizer_config.json', describeIssues(parsed.error));
      config = parsed.data;
    }
    let hf: HfTokenizer;
    try {
      // The parsed config: the library reads additional_special_tokens as plain strings.
      hf = new HfTokenizer(json.data, config ?? {});
    } catch (error) {
      throw new TokenizerFileError('tokenizer.json', messageOf(error));
    }
    const specials = [
      ...json.data.added_tokens.filter((t) => t.special).map((t) => t.content),
      ...(config?.additional_special_tokens ?? []),
    ];
    return new Tokenizer(hf, config, specials, { tokenizer: tokenizerJson, config: tokenizerConfig ?? null });
  }

  /**
   * Token ids of `text`. Added tokens written literally ("<s>", "[INST]" where it is one) map
   * to their ids. addSpecialTokens (default true) applies the post-processor: BOS for Mistral.
   */
  encode(text: string, options: { addSpecialTokens?: boolean } = {}): number[] {
    return this.hf.encode(text, { add_special_tokens: options.addSpecialTokens ?? true }).ids;
  }

  /**
   * encode() that never blocks the event loop for long: a text over INLINE_CHARS is encoded on
   * a worker thread (tokenizer_workers.ts). Throws TokenizerBusy when too many wait already.
   */
  async encodeAsync(text: string, options: { addSpecialTokens?: boolean } = {}): Promise<number[]> {
    if (text.length <= INLINE_CHARS) return this.encode(text, options);
    this.workers ??= new TokenizerWorkers(this.source);
    return this.workers.encode(text, options.addSpecialTokens ?? true);
  }

  /** Stops the worker threads, if any were started (they never keep a process alive). */
  async close(): Promise<void> {
    await this.workers?.close();
    this.workers = null;
  }

  /** The text of `ids`; with skipSpecialTokens, <s>, </s> and other special tokens are left out. */
  decode(ids: readonly number[], options: { skipSpecialTokens?: boolean } = {}): string {
    if (ids.length === 0) return '';
    // Cleanup ("a ." → "a.") is off whatever the config says: it would make the text of a
    // prefix depend on later tokens, which streaming cannot honour.
    return this.hf.decode([...ids], { skip_special_tokens: options.skipSpecialTokens ?? false, clean_up_tokenization_spaces: false });
  }

  /** True for special tokens (<unk>, <s>, </s> …): the ones skipSpecialTokens drops. */
  isSpecial(id: number): boolean {
    return this.specialIds.has(id);
  }

  /** The vocabulary piece of `id`, e.g. "▁Hello" or "<0x0A>". */
  tokenString(id: number): string {
    const piece = Number.isInteger(id) ? this.pieces[id] : undefined;
    if (piece === undefined) throw new RangeError(`token id ${id} is outside the vocabulary (0 … ${this.vocabSize - 1})`);
    return piece;
  }

  /**
   * The UTF-8 bytes token `id` contributes to the text (OpenAI logprobs `bytes`): a <0xNN>
   * piece is that one byte (possibly part of a character), ▁ is a space. Decoding drops
   * the very first space of a text; this is the token on its own, so it keeps it.
   */
  tokenBytes(id: number): number[] {
    const piece = this.tokenString(id);
    const byte = byteOfPiece(piece);
    if (byte !== null) return [byte];
    return [...utf8.encode(piece.replaceAll('▁', ' '))];
  }

  /**
   * The prompt ids of a chat: the chat template of tokenizer_config.json (or Mistral's
   * [INST] format when there is none), encoded without adding another BOS: the template
   * writes it. Throws ChatTemplateError when the conversation breaks the format's rules.
   * `tools` go to the template; only a tokenizer with toolCallsId renders them.
   */
  chatPrompt(messages: readonly ChatMessage[], tools: readonly ChatTool[] = []): number[] {
    return this.encode(this.chatText(messages, tools), { addSpecialTokens: false });
  }

  /** chatPrompt() with its encoding through encodeAsync(). */
  async chatPromptAsync(messages: readonly ChatMessage[], tools: readonly ChatTool[] = []): Promise<number[]> {
    return this.encodeAsync(this.chatText(messages, tools), { addSpecialTokens: false });
  }

  private chatText(messages: readonly ChatMessage[], tools: readonly ChatTool[]): string {
    return this.chatTemplate === null ? mistralChatPrompt(messages, this.chatVars) : this.chatTemplate.render(messages, this.chatVars, tools);
  }
}
