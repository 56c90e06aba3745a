// String constraints rewritten as regular expressions XGrammar turns into exact grammars.
//
// XGrammar 0.1.27's own rules for these are unsafe: minLength/maxLength become
// [^"\\\r\n]{m,n}, which lets raw control characters (a tab, byte 0x14) into the JSON string, so
// JSON.parse fails; its date grammar accepts 2023-02-31 and its ipv4 grammar leading zeros. Every
// pattern here only matches characters that stand for themselves inside a JSON string (no ",
// no \, nothing below U+0020), so the generated text needs no escaping. That is stricter than
// the schema (no quotes or backslashes in length-limited strings), never looser.

/** One character a JSON string may hold as is. */
const plainChar = '[^"\\\\\\x00-\\x1f]';

export function lengthPattern(minLength: number, maxLength: number | undefined): string {
  return `^${plainChar}{${minLength},${maxLength ?? ''}}$`;
}

const date = '[0-9]{4}-(?:(?:0[13578]|1[02])-(?:0[1-9]|[12][0-9]|3[01])|(?:0[469]|11)-(?:0[1-9]|[12][0-9]|30)|02-(?:0[1-9]|1[0-9]|2[0-8]))';
// Seconds stop at 59 (RFC 3339 allows 60 only at a real leap second); fractions at 6 digits.
const time = '(?:[01][0-9]|2[0-3]):[0-5][0-9]:[0-5][0-9](?:\\.[0-9]{1,6})?(?:Z|[+-](?:[01][0-9]|2[0-3]):[0-5][0-9])';
const hex = (n: number) => `[0-9a-f]{${n}}`;

/**
 * format → pattern for the formats we guarantee. Dates stop at the 28th of February (no leap
 * day): every generated date is real. Others (email, uri, hostname, ipv4 …) are refused.
 */
export const formatPatterns: Readonly<Record<string, string>> = {
  date: `^${date}$`,
  time: `^${time}$`,
  'date-time': `^${date}T${time}$`,
  uuid: `^${hex(8)}-${hex(4)}-${hex(4)}-${hex(4)}-${hex(12)}$`,
};
