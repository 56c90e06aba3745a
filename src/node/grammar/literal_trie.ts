// A deterministic choice among literal texts, each followed by its own continuation:
// {"name" → A, "nick" → B} becomes "n" ("ame" A | "ick" B) rather than "name" A | "nick" B.
// Used for enum/const values and object keys, where XGrammar 0.1.27 would otherwise merge
// the alternatives' states wrongly (see ebnf.ts).
import { choice, literal, seq, type Ebnf } from './ebnf.ts';

export type LiteralEntry = { text: string; next: string };

type Node = { children: Map<string, Node>; ends: string[] };

function insert(root: Node, chars: string[], next: string): void {
  let node = root;
  for (const ch of chars) {
    let child = node.children.get(ch);
    if (child === undefined) node.children.set(ch, (child = { children: new Map(), ends: [] }));
    node = child;
  }
  if (!node.ends.includes(next)) node.ends.push(next);
}

/** An expression matching one entry's text followed by its continuation. */
export function literalChoice(g: Ebnf, stem: string, entries: LiteralEntry[]): string {
  const root: Node = { children: new Map(), ends: [] };
  for (const { text, next } of entries) insert(root, [...text], next);
  const expr = (node: Node): string => {
    const alternatives = [...node.ends];
    for (const [ch, child] of node.children) {
      // Follow a chain of single children into one literal.
      let text = ch;
      let end = child;
      while (end.ends.length === 0 && end.children.size === 1) {
        const [[c, n]] = [...end.children];
        text += c;
        end = n!;
      }
      const rest = expr(end);
      alternatives.push(seq(literal(text), needsRule(rest) ? g.rule(stem, rest) : rest));
    }
    return choice(alternatives.length === 0 ? [''] : alternatives);
  };
  return expr(root);
}

// Keep rule bodies small: a nested choice becomes a rule of its own.
const needsRule = (expr: string) => expr.startsWith('(');
