// Structured outputs for one model's tokenizer: response_format → validated, normalized
// schema → EBNF (json_schema_grammar.ts) → grammar compiled by XGrammar for this vocabulary
// (cached per grammar) → a TokenMatcher per request.
import type { CompiledGrammar, GrammarCompiler, TokenizerInfo } from '@mlc-ai/web-xgrammar';
import type { Tokenizer } from '../../tokenizer/tokenizer.ts';
import { createTokenizerInfo, grammarVocabulary, type GrammarVocabularyOptions } from './grammar_vocabulary.ts';
import { jsonObjectGrammar, jsonSchemaGrammar } from './json_schema_grammar.ts';
import { parseResponseFormat, type ResponseFormat } from './response_format.ts';
import { normalizeJsonSchema } from './schema_support.ts';
import { TokenMatcher } from './token_matcher.ts';
import { Utf8Guard } from './utf8_guard.ts';
import { xgrammar } from './xgrammar_runtime.ts';

export type ConstrainedDecodingOptions = GrammarVocabularyOptions & {
  /**
   * Most whitespace characters allowed between two JSON tokens (default 16: room for a newline
   * and indentation, not for a model to stall in spaces). 0: compact JSON only.
   */
  maxWhitespace?: number;
  /**
   * Compiled grammars kept (least recently used dropped first); default 32. Each holds its
   * token-mask tables inside XGrammar's WebAssembly heap, which cannot grow past 2 GiB: about
   * 15 MiB for a small object with a few length-limited strings on a 32000-token vocabulary.
   */
  cacheSize?: number;
};

/** A response_format compiled for this tokenizer: what TokenMatchers are made from. */
export type CompiledResponseFormat = {
  readonly format: ResponseFormat;
  /** The EBNF grammar XGrammar compiled: the cache key of the compiled tables. */
  readonly ebnf: string;
};

export class ConstrainedDecoding {
  private readonly cache = new Map<string, Promise<CompiledGrammar>>();
  private readonly maxWhitespace: number;
  private readonly cacheSize: number;

  private constructor(
    private readonly info: TokenizerInfo,
    private readonly compiler: GrammarCompiler,
    private readonly utf8: Utf8Guard,
    readonly vocabSize: number,
    options: ConstrainedDecodingOptions,
  ) {
    this.maxWhitespace = options.maxWhitespace ?? 16;
    this.cacheSize = options.cacheSize ?? 32;
  }

  static async create(tokenizer: Tokenizer, options: ConstrainedDecodingOptions = {}): Promise<ConstrainedDecoding> {
    const vocabulary = grammarVocabulary(tokenizer, options);
    const info = await createTokenizerInfo(vocabulary);
    // Our own cache (bounded, keyed by the grammar) replaces XGrammar's unbounded one.
    const compiler = await xgrammar().GrammarCompiler.createGrammarCompiler(info, false);
    return new ConstrainedDecoding(info, compiler, Utf8Guard.forTokenizer(tokenizer), vocabulary.vocabSize, options);
  }

  /**
   * Validates and compiles a request's response_format; null for text (no constraint).
   * Throws ResponseFormatError (a 400) for a bad shape or an unsupported schema feature.
   * Compiling takes tens of milliseconds, up to ~2 s with long length-limited strings (XGrammar
   * unrolls maxLength: ~8 ms per character, capped near 1.7 s); the same grammar again is a
   * cache hit (well under a millisecond).
   */
  async compileResponseFormat(value: unknown, param = 'response_format'): Promise<CompiledResponseFormat | null> {
    const format = parseResponseFormat(value, param);
    if (format.type === 'text') return null;
    const options = { maxWhitespace: this.maxWhitespace };
    const ebnf =
      format.type === 'json_schema' && format.schema !== null
        ? jsonSchemaGrammar(normalizeJsonSchema(format.schema, { path: `${param}.json_schema.schema` }), { ...options, strict: format.strict })
        : jsonObjectGrammar(options);
    await this.compiled(ebnf);
    return { format, ebnf };
  }

  /**
   * A fresh matcher for one request; dispose() it when the request ends. The compiled tables
   * come from the cache (compiled again if they were dropped meanwhile).
   */
  async matcher(compiled: CompiledResponseFormat): Promise<TokenMatcher> {
    const grammar = await this.compiled(compiled.ebnf);
    const matcher = await xgrammar().GrammarMatcher.createGrammarMatcher(grammar);
    return new TokenMatcher(matcher, this.vocabSize, this.utf8.fresh());
  }

  get cachedGrammars(): number {
    return this.cache.size;
  }

  dispose(): void {
    for (const pending of this.cache.values()) void pending.then((g) => g.dispose(), () => {});
    this.cache.clear();
    this.compiler.dispose();
    this.info.dispose();
  }

  private compiled(key: string): Promise<CompiledGrammar> {
    const hit = this.cache.get(key);
    if (hit !== undefined) {
      this.cache.delete(key); // re-insert: most recently used last
      this.cache.set(key, hit);
      return hit;
    }
    const pending = this.compile(key);
    this.cache.set(key, pending);
    pending.catch(() => this.cache.get(key) === pending && this.cache.delete(key));
    while (this.cache.size > this.cacheSize) this.evictOldest();
    return pending;
  }

  private evictOldest(): void {
    const [oldest, evicted] = this.cache.entries().next().value!;
    this.cache.delete(oldest);
    // Frees its tables; matchers made from it keep their own reference on the C++ side.
    void evicted.then((g) => g.dispose(), () => {});
  }

  // XGrammar's WebAssembly aborts (RuntimeError "Aborted()") when its heap is full. The heap
  // is still usable afterwards: drop every other cached grammar and try once more.
  private async compile(ebnf: string): Promise<CompiledGrammar> {
    const key = ebnf;
    const attempt = () => this.compiler.compileGrammar(ebnf, 'root');
    try {
      return await attempt();
    } catch (error) {
      if (!(error instanceof WebAssembly.RuntimeError)) throw error;
      const others = [...this.cache].filter(([k]) => k !== key);
      for (const [k] of others) this.cache.delete(k);
      for (const grammar of await Promise.all(others.map(([, p]) => p.catch(() => null)))) grammar?.dispose();
      return attempt();
    }
  }
}
