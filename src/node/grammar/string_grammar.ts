// JSON strings: any string, a length-limited one, or one of the supported formats.
//
// A length-limited string counts characters as JSON Schema does (code points), all of them
// plain (anything but ", \ and controls): escapes are left out there, which keeps the count
// exact. Its cost is in compiling: XGrammar unrolls the repetition, ~8 ms per character of
// maxLength on the 32000-token vocabulary (its own converter costs the same). Formats are
// exact: dates stop at the 28th of February (no leap day) so every generated date is real.
//
// Nested strings (anything but the whole output) end with a lookahead: after a JSON string
// inside a document only whitespace and one of , } ] : can come. It lets XGrammar decide most
// tokens that close the string from its precomputed tables; without it every such token is
// checked at run time and a mask inside an unbounded string costs ~12 ms instead of ~10 µs.
import { type Ebnf } from './ebnf.ts';

/** One character a JSON string holds as is. */
export const plainChar = '[^"\\\\\\x00-\\x1f]';
const plain = plainChar;

/** What may follow a JSON string inside a document. */
export const afterValue = '(= [ \\n\\t]* [,}\\]:])';

/** Any JSON string; `nested`: not the whole output. */
export function anyString(g: Ebnf, nested: boolean): string {
  const escape = g.shared('escape', () => '["\\\\/bfnrt] | "u" [0-9a-fA-F] [0-9a-fA-F] [0-9a-fA-F] [0-9a-fA-F]');
  if (!nested) return g.shared('root_string', () => `"\\"" (${plain} | "\\\\" ${escape})* "\\""`);
  const rest = g.shared('string_rest', (self) => `("\\"" | ${plain} ${self} | "\\\\" ${escape} ${self}) ${afterValue}`);
  return g.shared('string', () => `"\\"" ${rest}`);
}

/** A JSON string of minLength … maxLength plain characters. */
export function boundedString(g: Ebnf, minLength: number, maxLength: number | undefined, nested: boolean): string {
  const count = maxLength === undefined ? `{${minLength},}` : `{${minLength},${maxLength}}`;
  const body = maxLength === 0 ? '"\\"\\""' : `"\\"" ${plain}${count} "\\""`;
  return g.shared(`str_${minLength}_${maxLength ?? 'n'}_${nested ? 'n' : 'r'}`, () => (nested ? `${body} ${afterValue}` : body));
}

const grammars: Readonly<Record<string, (g: Ebnf) => string>> = {
  date: (g) => {
    const d31 = '("0" [1-9] | [12] [0-9] | "3" [01])';
    const d30 = '("0" [1-9] | [12] [0-9] | "30")';
    const d28 = '("0" [1-9] | "1" [0-9] | "2" [0-8])';
    return g.shared('date', () => `[0-9] [0-9] [0-9] [0-9] "-" ("0" ([13578] "-" ${d31} | [469] "-" ${d30} | "2-" ${d28}) | "1" ([02] "-" ${d31} | "1-" ${d30}))`);
  },
  time: (g) =>
    g.shared('time', () => {
      const hour = '([01] [0-9] | "2" [0-3])';
      return `${hour} ":" [0-5] [0-9] ":" [0-5] [0-9] ("." [0-9]{1,6})? ("Z" | [+\\-] ${hour} ":" [0-5] [0-9])`;
    }),
  'date-time': (g) => g.shared('date_time', () => `${grammars.date!(g)} "T" ${grammars.time!(g)}`),
  uuid: (g) =>
    g.shared('uuid', () => {
      const hex = (n: number) => Array(n).fill('[0-9a-f]').join(' ');
      return [hex(8), hex(4), hex(4), hex(4), hex(12)].join(' "-" ');
    }),
};

export const stringFormats: readonly string[] = Object.keys(grammars);

/** A JSON string in `format` (one of stringFormats). */
export function formattedString(g: Ebnf, format: string): string {
  const inner = grammars[format]!(g);
  return g.shared(`fmt_${format}`, () => `"\\"" ${inner} "\\""`);
}

/** The rest of an object key after its first characters: plain characters, the closing quote, then ws and ":". */
export function keyTail(g: Ebnf): string {
  return g.shared('key_tail', (self) => `("\\"" | ${plain} ${self}) (= [ \\n\\t]* ":")`);
}
