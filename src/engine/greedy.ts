// Greedy decoding helpers shared by the CLI and the tests.

// Index of the largest value; ties go to the lowest index (DESIGN.md §2).
export function argmax(v: ArrayLike<number>): number {
  let best = 0;
  for (let i = 1; i < v.length; i++) if (v[i]! > v[best]!) best = i;
  return best;
}
