// Float64 building blocks of the reference forward pass: obvious loops, no tricks.

/** y = W x for W stored (out, in) row-major, i.e. y = x @ W.T. */
export function matVec(w: Float64Array, rows: number, cols: number, x: Float64Array): Float64Array {
  if (w.length !== rows * cols || x.length !== cols) throw new Error(`matVec: (${rows}, ${cols}) weight, vector of ${x.length}`);
  const y = new Float64Array(rows);
  for (let r = 0; r < rows; r++) {
    let sum = 0;
    for (let c = 0; c < cols; c++) sum += w[r * cols + c] * x[c];
    y[r] = sum;
  }
  return y;
}

/** x / sqrt(mean(x²) + eps) * w */
export function rmsNorm(x: Float64Array, w: Float64Array, eps: number): Float64Array {
  let sumSquares = 0;
  for (const v of x) sumSquares += v * v;
  const scale = 1 / Math.sqrt(sumSquares / x.length + eps);
  return x.map((v, i) => v * scale * w[i]);
}

export const silu = (v: number): number => v / (1 + Math.exp(-v));

/** Softmax of the values, shifted by their max for stability. */
export function softmax(values: readonly number[]): number[] {
  const max = Math.max(...values);
  const exps = values.map((v) => Math.exp(v - max));
  const sum = exps.reduce((a, b) => a + b, 0);
  return exps.map((e) => e / sum);
}

/**
 * In-place RoPE on the head vector v[offset .. offset + dim), HF rotate_half layout:
 * pair (x[k], x[k + dim/2]) turns by angle position · theta^(−2k/dim).
 */
export function applyRope(v: Float64Array, offset: number, dim: number, position: number, theta: number): void {
  const half = dim / 2;
  for (let k = 0; k < half; k++) {
    const angle = position * Math.pow(theta, (-2 * k) / dim);
    const x1 = v[offset + k];
    const x2 = v[offset + k + half];
    v[offset + k] = x1 * Math.cos(angle) - x2 * Math.sin(angle);
    v[offset + k + half] = x2 * Math.cos(angle) + x1 * Math.sin(angle);
  }
}
