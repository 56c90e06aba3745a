// Writing XGrammar's EBNF: rules with unique names, quoted literals, character classes.
//
// Grammars written with it avoid two faults of XGrammar 0.1.27 (the last web build):
//  - its rule FSMs merge states wrongly when alternatives share a prefix and repeat an element
//    (`"a" "b" "b" "b" | "a" "b" "b" | "a" "b"` accepts "abbbbb"; fixed upstream in v0.2 by
//    mlc-ai/xgrammar#632). Literal choices (enum, const, keys) and integer ranges are therefore
//    written as tries, where the next character tells the alternatives apart; anyOf branches
//    stay plain alternatives (the random-schema test exercises them).
//  - non-ASCII ranges in character classes are mishandled (a negated class "clamps" them to
//    127, a positive one matches nothing), so only ASCII goes into classes.

/** Escapes one code point for an EBNF "literal". */
function escapeCodePoint(cp: number): string {
  if (cp === 0x22) return '\\"';
  if (cp === 0x5c) return '\\\\';
  if (cp >= 0x20 && cp < 0x7f) return String.fromCodePoint(cp);
  if (cp <= 0xffff) return `\\u${cp.toString(16).padStart(4, '0')}`;
  return `\\U${cp.toString(16).padStart(8, '0')}`;
}

/** An EBNF string literal matching `text` exactly ("" matches nothing: the empty sequence). */
export function literal(text: string): string {
  let out = '"';
  for (const ch of text) out += escapeCodePoint(ch.codePointAt(0)!);
  return `${out}"`;
}

/** Escapes one ASCII character for use inside [...]. */
export function classChar(cp: number): string {
  if (cp >= 0x80) throw new Error('classChar: only ASCII goes into character classes');
  if (cp === 0x5c || cp === 0x5d || cp === 0x5e || cp === 0x2d || cp === 0x5b || cp === 0x22) return `\\${String.fromCharCode(cp)}`;
  if (cp >= 0x20 && cp < 0x7f) return String.fromCharCode(cp);
  return `\\x${cp.toString(16).padStart(2, '0')}`;
}

/** A character class of ASCII code points, as ranges: [0-35-9]. */
export function asciiClass(codePoints: Iterable<number>, negated = false): string {
  const sorted = [...new Set(codePoints)].sort((a, b) => a - b);
  let body = '';
  for (let i = 0; i < sorted.length; ) {
    let j = i;
    while (j + 1 < sorted.length && sorted[j + 1] === sorted[j]! + 1) j++;
    body += j === i ? classChar(sorted[i]!) : j === i + 1 ? classChar(sorted[i]!) + classChar(sorted[j]!) : `${classChar(sorted[i]!)}-${classChar(sorted[j]!)}`;
    i = j + 1;
  }
  return `[${negated ? '^' : ''}${body}]`;
}

/** A grammar under construction: named rules, each one line of alternatives. */
export class Ebnf {
  private readonly rules = new Map<string, string>();
  private readonly memo = new Map<string, string>();
  private counter = 0;

  /** A fresh rule name with this readable stem. */
  name(stem: string): string {
    const clean = stem.replace(/[^A-Za-z0-9_]/g, '_').slice(0, 24) || 'r';
    return `${clean}_${this.counter++}`;
  }

  /** Defines (or redefines) rule `name`. */
  define(name: string, body: string): string {
    this.rules.set(name, body);
    return name;
  }

  /** A rule for `body` under a fresh name. */
  rule(stem: string, body: string): string {
    return this.define(this.name(stem), body);
  }

  /** The rule `key` stands for, made once by `make` (given the rule's name, for recursion). */
  shared(key: string, make: (name: string) => string): string {
    const hit = this.memo.get(key);
    if (hit !== undefined) return hit;
    const name = this.name(key);
    this.memo.set(key, name);
    this.define(name, make(name));
    return name;
  }

  has(name: string): boolean {
    return this.rules.has(name);
  }

  toString(): string {
    return [...this.rules].map(([name, body]) => `${name} ::= ${body}`).join('\n');
  }
}

/** Alternatives, parenthesised when there is more than one. */
export function choice(alternatives: string[]): string {
  const unique = [...new Set(alternatives)];
  return unique.length === 1 ? unique[0]! : `(${unique.map((a) => (a === '' ? '""' : a)).join(' | ')})`;
}

/** A sequence of parts, skipping empty ones; "" when nothing is left. */
export function seq(...parts: string[]): string {
  return parts.filter((p) => p !== '' && p !== '""').join(' ');
}
