// How engine outputs are judged against the float64 reference (DESIGN §2 tolerances).

/** max|a − ref| / max|ref| over one vector. */
export function relativeError(a: ArrayLike<number>, ref: ArrayLike<number>): number {
  if (a.length !== ref.length) throw new Error(`length ${a.length} ≠ reference length ${ref.length}`);
  let maxDiff = 0;
  let maxRef = 0;
  for (let i = 0; i < ref.length; i++) {
    maxDiff = Math.max(maxDiff, Math.abs(a[i] - ref[i]));
    maxRef = Math.max(maxRef, Math.abs(ref[i]));
  }
  if (Number.isNaN(maxDiff)) return NaN;
  return maxRef === 0 ? (maxDiff === 0 ? 0 : Infinity) : maxDiff / maxRef;
}

/** Index of the largest value; ties go to the lowest index (greedy decoding's rule). */
export function argmaxLowest(v: ArrayLike<number>): number {
  let best = 0;
  for (let i = 1; i < v.length; i++) if (v[i] > v[best]) best = i;
  return best;
}
