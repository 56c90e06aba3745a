// Structured outputs for one model's tokenizer: response_format → compiled grammar (cached
// per schema) → a TokenMatcher per request.
import type { CompiledGrammar, GrammarCompiler, TokenizerInfo } from '@mlc-ai/web-xgrammar';
import type { Tokenizer } from '../../tokenizer/tokenizer.ts';
import { createTokenizerInfo, grammarVocabulary, type GrammarVocabularyOptions } from './grammar_vocabulary.ts';
import { parseResponseFormat, type ResponseFormat } from './response_format.ts';
import { normalizeJsonSchema } from './schema_support.ts';
import { TokenMatcher } from './token_matcher.ts';
import { Utf8Guard } from './utf8_guard.ts';
import { xgrammar } from './xgrammar_runtime.ts';

export type ConstrainedDecodingOptions = GrammarVocabularyOptions & {
  /**
   * Most whitespace characters XGrammar allows between JSON tokens in the places it bounds
   * them (default 16: room for a newline and indentation, not for a model to stall in spaces).
   */
  maxWhitespace?: number;
  /** Compiled grammars kept (least recently used dropped first); default 256. */
  cacheSize?: number;
};

/** A response_format compiled for this tokenizer: what TokenMatchers are made from. */
export type CompiledResponseFormat = {
  readonly format: ResponseFormat;
  /** The cache key: the schema as XGrammar received it, with the strict flag. */
  readonly key: string;
  readonly grammar: CompiledGrammar;
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
    this.cacheSize = options.cacheSize ?? 256;
  }

  static async create(tokenizer: Tokenizer, options: ConstrainedDecodingOptions = {}): Promise<ConstrainedDecoding> {
    const vocabulary = grammarVocabulary(tokenizer, options);
    const info = await createTokenizerInfo(vocabulary);
    // Our own cache (bounded, keyed by the normalized schema) replaces XGrammar's unbounded one.
    const compiler = await xgrammar().GrammarCompiler.createGrammarCompiler(info, false);
    return new ConstrainedDecoding(info, compiler, Utf8Guard.forTokenizer(tokenizer), vocabulary.vocabSize, options);
  }

  /**
   * Validates and compiles a request's response_format; null for text (no constraint).
   * Throws ResponseFormatError (a 400) for a bad shape or an unsupported schema feature.
   * Compiling takes milliseconds to tens of milliseconds; the same schema again is a cache hit.
   */
  async compileResponseFormat(value: unknown, param = 'response_format'): Promise<CompiledResponseFormat | null> {
    const format = parseResponseFormat(value, param);
    if (format.type === 'text') return null;
    // json_object: any object; with strict off XGrammar lets it hold any properties.
    const schema = format.type === 'json_schema' && format.schema !== null ? normalizeJsonSchema(format.schema, { path: `${param}.json_schema.schema` }) : { type: 'object' };
    const strict = format.type === 'json_schema' && format.strict;
    const key = `${strict ? 'strict' : 'loose'} ${JSON.stringify(schema)}`;
    return { format, key, grammar: await this.compiled(key, schema, strict) };
  }

  /** A fresh matcher for one request; dispose() it when the request ends. */
  async matcher(compiled: CompiledResponseFormat): Promise<TokenMatcher> {
    const matcher = await xgrammar().GrammarMatcher.createGrammarMatcher(compiled.grammar);
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

  private compiled(key: string, schema: object, strict: boolean): Promise<CompiledGrammar> {
    const hit = this.cache.get(key);
    if (hit !== undefined) {
      this.cache.delete(key); // re-insert: most recently used last
      this.cache.set(key, hit);
      return hit;
    }
    const pending = this.compiler.compileJSONSchema(JSON.stringify(schema), true, undefined, undefined, strict, this.maxWhitespace);
    this.cache.set(key, pending);
    pending.catch(() => this.cache.get(key) === pending && this.cache.delete(key));
    while (this.cache.size > this.cacheSize) {
      const [oldest, evicted] = this.cache.entries().next().value!;
      this.cache.delete(oldest);
      // Matchers made from it keep their own reference on the C++ side.
      void evicted.then((g) => g.dispose(), () => {});
    }
    return pending;
  }
}
