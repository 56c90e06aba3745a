// JSON strings: any string, a length-limited one, or one of the supported formats.
//
// A length-limited string counts characters as JSON Schema does (code points): each one is a
// plain character (anything but ", \ and controls) or a one-character escape (\n, \" …);
// \uXXXX escapes are left out there, as a surrogate pair would count twice. Formats are exact:
// dates stop at the 28th of February (no leap day) so every generated date is a real one.
import { type Ebnf } from './ebnf.ts';

/** One character a JSON string holds as is. */
export const plainChar = '[^"\\\\\\x00-\\x1f]';
const plain = plainChar;

/** Any JSON string. */
export function anyString(g: Ebnf): string {
  const escape = g.shared('escape', () => '["\\\\/bfnrt] | "u" [0-9a-fA-F] [0-9a-fA-F] [0-9a-fA-F] [0-9a-fA-F]');
  return g.shared('string', () => `"\\"" (${plain} | "\\\\" ${escape})* "\\""`);
}

/** A JSON string of minLength … maxLength characters. */
export function boundedString(g: Ebnf, minLength: number, maxLength: number | undefined): string {
  const char = g.shared('char', () => `${plain} | "\\\\" ["\\\\/bfnrt]`);
  const count = maxLength === undefined ? `{${minLength},}` : `{${minLength},${maxLength}}`;
  if (maxLength === 0) return '"\\"\\""';
  return g.shared(`str_${minLength}_${maxLength ?? 'n'}`, () => `"\\"" ${char}${count} "\\""`);
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
