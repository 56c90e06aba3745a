// The engine's scan of logits rows (engine_logits_scan; engine.ts: RowScan), which the node
// samples from in place of JavaScript's scans: the same answers as those scans on every row —
// ties, NaN and ±Inf anywhere, signed zeros, rows shorter or no multiple of its 16 lanes —
// in the addon and in the WASM module, and stepScanned's scans are those of its own rows.
import { afterAll, describe, expect, it } from 'vitest';
import { Engine } from '../src/engine/engine.ts';
import { argmax } from '../src/engine/greedy.ts';
import { nativeAddon } from '../src/engine/native.ts';
import { wasmLogitsScan } from '../src/engine/wasm_exports.ts';
import { wasmModule } from '../src/engine/wasm_load.ts';
import { prompt } from './helpers/check_reference.ts';
import { TempModels } from './helpers/models.ts';

const models = new TempModels();
afterAll(() => models.cleanup());

// The JavaScript scans the engine's replaces: argmax (greedy.ts) and the first non-finite index.
function jsScan(row: Float32Array): [number, number] {
  return [argmax(row), row.findIndex((v) => !Number.isFinite(v))];
}

// A deterministic generator (mulberry32), so a failing row can be rebuilt.
function random(seed: number): () => number {
  return () => {
    seed = (seed + 0x6d2b79f5) | 0;
    let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

// Rows of every length class, each made to catch a way the lanes could differ from the scan.
function edgeRows(vocab: number, seed: number): Float32Array[] {
  const r = random(seed), at = () => Math.floor(r() * vocab);
  const rows: Float32Array[] = [];
  const make = (f: (i: number) => number) => rows.push(Float32Array.from({ length: vocab }, (_, i) => f(i)));
  make(() => (r() - 0.5) * 20);
  make(() => Math.floor(r() * 4)); // many ties of the max, in every lane
  make(() => -Infinity);
  make((i) => (i % 2 ? 0 : -0));
  make((i) => (i === vocab - 1 ? 5 : 1)); // the max in the last element (past the whole lanes)
  for (const bad of [NaN, Infinity, -Infinity]) {
    const k = at();
    make((i) => (i === k ? bad : r() * 3));
    make((i) => (i === 0 ? bad : r() * 3)); // first: a NaN there makes the scan answer 0
    const k2 = at();
    make((i) => (i === k2 || i === vocab - 1 ? bad : Math.floor(r() * 3)));
    // the max, then the bad value in the same lane further on (16 lanes)
    const k3 = Math.floor(r() * Math.max(1, vocab - 16));
    make((i) => (i === k3 ? 9 : i === k3 + 16 ? bad : r() * 3));
  }
  return rows;
}

describe('the logits scan', () => {
  it('answers what the JavaScript scans do on every row, in the addon and in WASM', async () => {
    const module = await wasmModule('sirocco.wasm');
    for (const vocab of [1, 2, 15, 16, 17, 33, 100, 32000]) {
      const rows = edgeRows(vocab, vocab);
      const flat = new Float32Array(rows.length * vocab);
      rows.forEach((row, i) => flat.set(row, i * vocab));
      const want = rows.flatMap(jsScan);
      expect(Array.from(nativeAddon().logitsScan(flat, vocab)), `native, vocab ${vocab}`).toEqual(want);
      expect(Array.from(wasmLogitsScan(module, flat, vocab)), `wasm, vocab ${vocab}`).toEqual(want);
    }
  });

  it("stepScanned's scans are those of its own rows, on either engine, in a mixed batch", async () => {
    const dir = await models.make({ preset: 'mixtral-tiny', seed: 17 });
    for (const backend of ['native', 'wasm'] as const) {
      const e = await Engine.load(dir, { backend });
      try {
        const [a, b] = [e.createSequence(), e.createSequence()];
        for (const reuseLogits of [false, true]) {
          const inputs = [
            { sequence: a, tokens: prompt(5, reuseLogits ? 1 : 2, 512), allLogits: true },
            { sequence: b, tokens: prompt(3, reuseLogits ? 3 : 4, 512) },
          ];
          const { rows, scans } = await e.stepScanned(inputs, { reuseLogits });
          expect(rows.map((r) => r.length)).toEqual([5, 1]);
          expect(scans.map((s) => s.length)).toEqual([5, 1]);
          const want = rows.flat().map((row) => ({ argmax: argmax(row), firstNonFinite: -1, fedAhead: -1 }));
          expect(scans.flat(), `${backend}, reuseLogits ${reuseLogits}`).toEqual(want);
          expect(new Set(want.map((w) => w.argmax)).size, 'rows with different argmaxes').toBeGreaterThan(1);
        }
      } finally {
        await e.close();
      }
    }
  });

  it('refuses a scan array shorter than two ints a row, before stepping', async () => {
    const dir = await models.make({ preset: 'mixtral-tiny', seed: 17 });
    for (const backend of ['native', 'wasm'] as const) {
      const e = await Engine.load(dir, { backend });
      try {
        const seq = e.createSequence();
        const core = (e as unknown as { native: { step: (...a: unknown[]) => Promise<Float32Array> } }).native;
        await expect(
          Promise.resolve().then(() => core.step(Int32Array.of(seq), Int32Array.of(2), Uint8Array.of(1), Int32Array.of(5, 6), undefined, new Int32Array(3))),
          backend,
        ).rejects.toThrow(/scan must be an Int32Array of at least 4 ints/);
        expect(e.sequenceLength(seq), `${backend}: the refused step changed nothing`).toBe(0);
      } finally {
        await e.close();
      }
    }
  });
});
