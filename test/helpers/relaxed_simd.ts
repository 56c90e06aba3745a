// Node 20's V8 has relaxed SIMD behind --experimental-wasm-relaxed-simd (on by default from
// Node 22). A test file that runs the relaxed table turns it on in its own process (vitest
// runs each file in its own) before anything probes; the probe (wasm_relaxed_probe.ts) still
// checks the host's answers before an engine uses it.
import v8 from 'node:v8';

export const nodeHasRelaxedSimd = () => Number(process.versions.node.split('.')[0]) >= 22;

export function enableRelaxedSimd(): void {
  if (!nodeHasRelaxedSimd()) v8.setFlagsFromString('--experimental-wasm-relaxed-simd');
}
