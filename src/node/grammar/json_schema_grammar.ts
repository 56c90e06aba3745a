// A normalized JSON Schema (schema_support.ts) as an EBNF grammar for XGrammar.
//
// XGrammar's own converter is not used: in 0.1.27 it writes property names unescaped (a key
// with " breaks the grammar, one with a tab breaks the JSON), renders integer and number
// bounds wrongly and lets raw control characters into length-limited strings. Its grammar
// compiler and token masking are what we use.
//
// Output shape: no whitespace before the value or after it; between tokens up to
// `maxWhitespace` spaces, newlines or tabs. Object properties come in schema order; with
// additional properties allowed, extra keys (never one of the defined names) follow the
// defined ones. Every choice point is a trie or starts with distinct characters (ebnf.ts).
import { asciiClass, choice, Ebnf, literal, seq } from './ebnf.ts';
import { integerRange } from './integer_grammar.ts';
import { literalChoice } from './literal_trie.ts';
import type { Schema } from './schema_support.ts';
import { anyString, boundedString, formattedString, keyTail } from './string_grammar.ts';

export type JsonGrammarOptions = {
  /** additionalProperties left out = false (OpenAI's strict mode); otherwise true as in JSON Schema. */
  strict: boolean;
  maxWhitespace: number;
};

class Converter {
  readonly g = new Ebnf();
  private readonly ws: string;
  private readonly defs = new Map<string, string>();

  constructor(
    private readonly root: Schema,
    private readonly options: JsonGrammarOptions,
  ) {
    this.ws = options.maxWhitespace > 0 ? this.g.shared('ws', () => `[ \\n\\t]{0,${options.maxWhitespace}}`) : '';
  }

  /** `nested`: inside the document (false only for the whole output, see string_grammar.ts). */
  value(s: Schema, nested = true): string {
    if (typeof s.$ref === 'string') return nested || s.$ref === '#' ? this.ref(s.$ref) : this.value(this.target(s.$ref), false);
    if ('const' in s) return literalChoice(this.g, 'const', [{ text: JSON.stringify(s.const), next: '' }]);
    if (Array.isArray(s.enum)) return this.g.rule('enum', literalChoice(this.g, 'enum', s.enum.map((v) => ({ text: JSON.stringify(v), next: '' }))));
    if (Array.isArray(s.anyOf)) return this.g.rule('any_of', choice(s.anyOf.map((b) => this.value(b as Schema, nested))));
    switch (s.type) {
      case undefined:
        return this.anyValue(nested);
      case 'null':
        return '"null"';
      case 'boolean':
        return '("true" | "false")';
      case 'number':
        return this.number();
      case 'integer':
        return integerRange(this.g, (s.minimum as number | undefined) ?? -Infinity, (s.maximum as number | undefined) ?? Infinity);
      case 'string':
        if (typeof s.format === 'string') return formattedString(this.g, s.format);
        if (s.minLength === undefined && s.maxLength === undefined) return anyString(this.g, nested);
        return boundedString(this.g, (s.minLength as number | undefined) ?? 0, s.maxLength as number | undefined, nested);
      case 'array':
        return this.array(s);
      case 'object':
        return this.object(s);
      default:
        throw new Error(`json_schema_grammar: unexpected type ${String(s.type)}`);
    }
  }

  private target(ref: string): Schema {
    const name = ref.slice('#/$defs/'.length).replaceAll('~1', '/').replaceAll('~0', '~');
    return (this.root.$defs as Record<string, Schema>)[name]!;
  }

  private ref(ref: string): string {
    if (ref === '#') return 'root';
    let rule = this.defs.get(ref);
    if (rule === undefined) {
      rule = this.g.name(`def_${ref.slice('#/$defs/'.length)}`);
      this.defs.set(ref, rule); // before converting the body: definitions may be recursive
      this.g.define(rule, this.value(this.target(ref)));
    }
    return rule;
  }

  private number(): string {
    return this.g.shared('number', () => '"-"? ("0" | [1-9] [0-9]*) ("." [0-9]+)? ([eE] [+\\-]? [0-9]+)?');
  }

  private anyRules: { value: string; object: string; array: string } | null = null;

  /** Any JSON value, whitespace as configured. */
  anyValue(nested = true): string {
    const { value, object, array } = this.anyParts();
    if (nested) return value;
    return this.g.shared('root_any', () => [object, array, anyString(this.g, false), this.number(), '"true"', '"false"', '"null"'].join(' | '));
  }

  private anyParts(): { value: string; object: string; array: string } {
    if (this.anyRules !== null) return this.anyRules;
    const g = this.g;
    const ws = this.ws;
    const rules = (this.anyRules = { value: g.name('value'), object: g.name('object'), array: g.name('array') });
    const { value, object, array } = rules;
    const str = anyString(g, true);
    const member = seq(str, ws, '":"', ws, value);
    g.define(object, seq('"{"', ws, choice(['"}"', seq(member, ws, `(${seq('","', ws, member, ws)})*`, '"}"')])));
    g.define(array, seq('"["', ws, choice(['"]"', seq(value, ws, `(${seq('","', ws, value, ws)})*`, '"]"')])));
    g.define(value, [object, array, str, this.number(), '"true"', '"false"', '"null"'].join(' | '));
    return rules;
  }

  private array(s: Schema): string {
    const ws = this.ws;
    const prefix = (s.prefixItems as Schema[] | undefined) ?? [];
    const closed = s.items === false;
    const itemSchema = closed ? null : ((s.items as Schema | undefined) ?? {});
    const min = (s.minItems as number | undefined) ?? 0;
    let max = (s.maxItems as number | undefined) ?? Infinity;
    if (closed) max = Math.min(max, prefix.length);
    const elem = (i: number) => (i < prefix.length ? this.value(prefix[i]!) : this.value(itemSchema!));
    // What may follow the i-th element (and the whitespace after it).
    const tail = (i: number): string => {
      if (i >= prefix.length) {
        const lo = Math.max(0, min - i);
        const hi = max === Infinity ? '' : String(max - i);
        if (hi === '0') return '"]"';
        return seq(`(${seq('","', ws, elem(i), ws)}){${lo},${hi}}`, '"]"');
      }
      const alternatives: string[] = [];
      if (i >= min) alternatives.push('"]"');
      if (i < max) alternatives.push(seq('","', ws, elem(i), ws, tail(i + 1)));
      return this.g.rule('items', choice(alternatives));
    };
    if (max === 0) return seq('"["', ws, '"]"');
    const first = seq(elem(0), ws, tail(1));
    return this.g.rule('array', seq('"["', ws, min === 0 ? choice(['"]"', first]) : first));
  }

  private object(s: Schema): string {
    const ws = this.ws;
    const properties = Object.entries((s.properties as Record<string, Schema> | undefined) ?? {});
    const required = new Set((s.required as string[] | undefined) ?? []);
    const extra = s.additionalProperties ?? !this.options.strict;
    const extraValue = extra === false ? null : extra === true ? this.anyValue() : this.value(extra as Schema);
    if (properties.length === 0 && extraValue === null) return seq('"{"', ws, '"}"');
    const values = properties.map(([, schema]) => this.value(schema));
    const rules = new Map<string, string>();

    // After i properties were considered (started: one was written): the rest of the object.
    const rest = (i: number, started: boolean): string => {
      const key = `${i}/${started}`;
      const known = rules.get(key);
      if (known !== undefined) return known;
      const name = this.g.name('props');
      rules.set(key, name);
      const keys: { name: string; next: string }[] = [];
      let j = i;
      for (; j < properties.length; j++) {
        keys.push({ name: properties[j]![0], next: seq(ws, '":"', ws, values[j]!, ws, rest(j + 1, true)) });
        if (required.has(properties[j]![0])) break;
      }
      const mayEnd = j === properties.length; // no required property left
      const other = mayEnd && extraValue !== null ? seq(ws, '":"', ws, extraValue, ws, rest(properties.length, true)) : null;
      const alternatives: string[] = [];
      if (mayEnd) alternatives.push('""');
      if (keys.length > 0 || other !== null) alternatives.push(seq(started ? seq('","', ws) : '', this.keyChoice(keys, other, properties.map(([p]) => p))));
      this.g.define(name, alternatives.join(' | '));
      return name;
    };
    return this.g.rule('object', seq('"{"', ws, rest(0, false), '"}"'));
  }

  /**
   * A key (with its quotes) and what follows it: one of `keys`, or, when `other` is given, any
   * other key made of plain characters that is none of `reserved` (all defined property names:
   * one written already or skipped must not come back as an extra) followed by `other`.
   */
  private keyChoice(keys: { name: string; next: string }[], other: string | null, reserved: string[]): string {
    const entries = keys.map(({ name, next }) => ({ text: JSON.stringify(name), next }));
    if (other === null) return literalChoice(this.g, 'key', entries);
    if (reserved.length === 0) return seq(anyString(this.g, true), other);
    type Node = { children: Map<string, Node>; next: string | null };
    const root: Node = { children: new Map(), next: null };
    const nextOf = new Map(entries.map((e) => [e.text, e.next]));
    for (const text of reserved.map((name) => JSON.stringify(name))) {
      let node = root;
      for (const ch of text.slice(1)) {
        let child = node.children.get(ch);
        if (child === undefined) node.children.set(ch, (child = { children: new Map(), next: null }));
        node = child;
      }
      node.next = nextOf.get(text) ?? null; // reached after the closing quote; null: not allowed here
    }
    const freeTail = keyTail(this.g);
    const plainAscii = [...Array(0x7f - 0x20).keys()].map((i) => 0x20 + i).filter((c) => c !== 0x22 && c !== 0x5c);
    const expr = (node: Node): string => {
      const alternatives: string[] = [];
      for (const [ch, child] of node.children) {
        if (ch === '"') {
          if (child.next !== null) alternatives.push(seq(literal(ch), child.next));
        } else alternatives.push(seq(literal(ch), this.g.rule('key', expr(child))));
      }
      // Any other key leaves the trie here: close now (unless this prefix is a defined key) …
      if (!node.children.has('"')) alternatives.push(seq('"\\""', other));
      // … or go on with a character no defined key has next (ASCII only when one is non-ASCII).
      const taken = [...node.children.keys()].map((c) => c.codePointAt(0)!);
      const cls = taken.some((c) => c >= 0x80)
        ? asciiClass(plainAscii.filter((c) => !taken.includes(c)))
        : asciiClass([...Array(0x20).keys(), 0x22, 0x5c, ...taken], true);
      if (cls !== '[]') alternatives.push(seq(cls, freeTail, other));
      return choice(alternatives);
    };
    return seq('"\\""', this.g.rule('key', expr(root)));
  }
}

/** EBNF (root rule "root") generating exactly JSON texts valid under `schema` (normalized). */
export function jsonSchemaGrammar(schema: Schema, options: JsonGrammarOptions): string {
  const c = new Converter(schema, options);
  c.g.define('root', c.value(schema, false));
  return c.g.toString();
}

/** EBNF for any JSON object (response_format json_object). */
export function jsonObjectGrammar(options: Pick<JsonGrammarOptions, 'maxWhitespace'>): string {
  return jsonSchemaGrammar({ type: 'object' }, { strict: false, ...options });
}
