// Integers within [lo, hi] as a deterministic grammar over digits.
//
// XGrammar 0.1.27's own rendering of bounds is wrong ({minimum: 126, maximum: 133} allows
// 120 … 139, {maximum: -1000} misses -9999 … -1001) and a union of exact ranges trips its FSM
// bug (ebnf.ts). Here the automaton is built directly: reading digits left to right, a state
// records, for every length the number may still have, whether the digits so far equal the
// lower bound's, the upper bound's, both, or lie strictly between. Each state becomes a rule
// whose alternatives start with disjoint digit classes.
import { asciiClass, choice, seq, type Ebnf } from './ebnf.ts';

/** Where an unbounded side stops when the other side is bounded: |n| < 10^15. */
export const integerLimit = 10 ** 15 - 1;

const DEAD = 0;
const FREE = 1;
const LOW = 2; // equal to the lower bound so far
const HIGH = 3; // equal to the upper bound so far
const BOTH = 4;

/** A rule matching the decimal digits (no sign, no leading zero) of the integers in [a, b], 1 ≤ a ≤ b. */
function positiveRange(g: Ebnf, a: number, b: number): string {
  const lengths: { lo: string; hi: string }[] = [];
  const la = String(a).length;
  const lb = String(b).length;
  for (let d = la; d <= lb; d++) {
    lengths.push({ lo: d === la ? String(a) : `1${'0'.repeat(d - 1)}`, hi: d === lb ? String(b) : '9'.repeat(d) });
  }
  const names = new Map<string, string>();
  const pending: { key: string; depth: number; status: number[] }[] = [];

  const nameOf = (depth: number, status: number[]): string => {
    const key = `${depth}:${status.join('')}`;
    let name = names.get(key);
    if (name === undefined) {
      name = g.name(`int_${a}_${b}`);
      names.set(key, name);
      pending.push({ key, depth, status });
    }
    return name;
  };

  const step = (depth: number, status: number[], digit: string): number[] =>
    status.map((s, k) => {
      const { lo, hi } = lengths[k]!;
      if (s === DEAD || depth >= lo.length) return DEAD;
      const l = lo[depth]!;
      const h = hi[depth]!;
      if (s === FREE) return FREE;
      if (s === LOW) return digit > l ? FREE : digit === l ? LOW : DEAD;
      if (s === HIGH) return digit < h ? FREE : digit === h ? HIGH : DEAD;
      if (digit === l && digit === h) return BOTH;
      if (digit === l) return LOW;
      if (digit === h) return HIGH;
      return digit > l && digit < h ? FREE : DEAD;
    });

  const start = nameOf(0, lengths.map(() => BOTH));
  while (pending.length > 0) {
    const { depth, status } = pending.pop()!;
    const final = status.some((s, k) => s !== DEAD && lengths[k]!.lo.length === depth);
    const targets = new Map<string, number[]>(); // next state → digits
    for (let d = 0; d <= 9; d++) {
      const next = step(depth, status, String(d));
      if (next.every((s) => s === DEAD)) continue;
      const name = nameOf(depth + 1, next);
      targets.set(name, [...(targets.get(name) ?? []), 0x30 + d]);
    }
    const alternatives = [...targets].map(([name, digits]) => seq(asciiClass(digits), name));
    if (final) alternatives.unshift('""');
    g.define(names.get(`${depth}:${status.join('')}`)!, alternatives.join(' | '));
  }
  return start;
}

/** An expression matching the JSON integers in [lo, hi] (±Infinity = unbounded). */
export function integerRange(g: Ebnf, lo: number, hi: number): string {
  if (lo === -Infinity && hi === Infinity) return g.shared('integer', () => '"-"? ("0" | [1-9] [0-9]*)');
  if (lo === -Infinity) lo = Math.min(-integerLimit, hi);
  if (hi === Infinity) hi = Math.max(integerLimit, lo);
  const alternatives: string[] = [];
  if (lo <= 0 && hi >= 0) alternatives.push('"0"');
  if (lo < 0) alternatives.push(seq('"-"', positiveRange(g, Math.max(1, -hi), -lo)));
  if (hi > 0) alternatives.push(positiveRange(g, Math.max(1, lo), hi));
  return choice(alternatives);
}
