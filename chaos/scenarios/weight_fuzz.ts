// The weight loader against corrupt files: fast-check mutates a model's safetensors file —
// its header (a tensor's dtype, shape or offsets, a missing tensor, random bytes, the length
// prefix) or its length (truncated anywhere) — and a real `sirocco node` is started on each.
// None may crash (a signal), and each refusal names the file, and a tensor when the mutation
// hit one (the very tensor for a wrong dtype or shape).
import { copyFile, mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import fc from 'fast-check';
import { TempModels } from '../../test/helpers/models.ts';
import { spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import { NODE_SECRET } from '../../test/helpers/servers.ts';
import type { Scenario } from '../scenario.ts';

const SEED = 11;
const WEIGHTS = 'model.safetensors';

type Mutation =
  | { kind: 'dtype'; tensor: number; value: string }
  | { kind: 'shape'; tensor: number; value: number[] }
  | { kind: 'offsets'; tensor: number; shift: number }
  | { kind: 'drop'; tensor: number }
  | { kind: 'header-bytes'; at: number; byte: number }
  | { kind: 'length-prefix'; value: number }
  | { kind: 'truncate'; fraction: number };

const mutation: fc.Arbitrary<Mutation> = fc.oneof(
  fc.record({ kind: fc.constant('dtype' as const), tensor: fc.nat(), value: fc.oneof(fc.constantFrom('F64', 'I8', 'Q8_0', 'Q4_0', 'BF16', 'F32', ''), fc.string({ maxLength: 8 })) }),
  fc.record({ kind: fc.constant('shape' as const), tensor: fc.nat(), value: fc.array(fc.oneof(fc.nat({ max: 4096 }), fc.constant(2 ** 40)), { maxLength: 4 }) }),
  fc.record({ kind: fc.constant('offsets' as const), tensor: fc.nat(), shift: fc.integer({ min: -4096, max: 4096 }).filter((n) => n !== 0) }),
  fc.record({ kind: fc.constant('drop' as const), tensor: fc.nat() }),
  fc.record({ kind: fc.constant('header-bytes' as const), at: fc.nat(), byte: fc.nat({ max: 255 }) }),
  fc.record({ kind: fc.constant('length-prefix' as const), value: fc.oneof(fc.nat(), fc.constant(2 ** 40)) }),
  fc.record({ kind: fc.constant('truncate' as const), fraction: fc.double({ min: 0, max: 0.999, noNaN: true }) }),
);

/** The mutated file, and the tensor the mutation aimed at (null for whole-file damage). */
function mutate(file: Buffer, m: Mutation): { bytes: Buffer; tensor: string | null } {
  const headerLength = Number(file.readBigUInt64LE(0));
  const header = JSON.parse(file.subarray(8, 8 + headerLength).toString('utf8')) as Record<string, { dtype: string; shape: number[]; data_offsets: [number, number] }>;
  const names = Object.keys(header).filter((n) => n !== '__metadata__');
  const rebuild = (h: object) => {
    const json = Buffer.from(JSON.stringify(h));
    const prefix = Buffer.alloc(8);
    prefix.writeBigUInt64LE(BigInt(json.length));
    return Buffer.concat([prefix, json, file.subarray(8 + headerLength)]);
  };
  if (m.kind === 'truncate') return { bytes: file.subarray(0, Math.floor(file.length * m.fraction)), tensor: null };
  if (m.kind === 'length-prefix') {
    const bytes = Buffer.from(file);
    bytes.writeBigUInt64LE(BigInt(m.value));
    return { bytes, tensor: null };
  }
  if (m.kind === 'header-bytes') {
    const bytes = Buffer.from(file);
    bytes[8 + (m.at % headerLength)] = m.byte;
    return { bytes, tensor: null };
  }
  const name = names[m.tensor % names.length]!;
  const entry = header[name]!;
  if (m.kind === 'drop') delete header[name];
  else if (m.kind === 'dtype') entry.dtype = m.value;
  else if (m.kind === 'shape') entry.shape = m.value;
  else entry.data_offsets = [Math.max(0, entry.data_offsets[0] + m.shift), Math.max(0, entry.data_offsets[1] + m.shift)];
  return { bytes: rebuild(header), tensor: name };
}

/** Starts `sirocco node` on `dir`: ready (then stopped), or how it exited and what it said. */
function tryNode(dir: string): Promise<{ ready: boolean; signal: NodeJS.Signals | null; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, ['bin/sirocco.js', 'node', '--model', dir, '--port', '0'], { env: { ...process.env, SIROCCO_NODE_SECRET: NODE_SECRET }, stdio: ['ignore', 'pipe', 'pipe'] });
    let stderr = '';
    let ready = false;
    child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
    createInterface({ input: child.stdout! }).on('line', (line) => {
      if (line.includes('"ready"')) {
        ready = true;
        child.kill('SIGTERM');
      }
    });
    const timer = setTimeout(() => child.kill('SIGKILL'), 30_000);
    child.on('exit', (_code, signal) => {
      clearTimeout(timer);
      resolve({ ready, signal: ready ? null : signal, stderr });
    });
  });
}

export const weightFuzz: Scenario = {
  name: 'weight-loader fuzzing',
  claim: 'no node crashes on a corrupt weight file; each refusal names the file, and the tensor a mutation hit',
  async run({ short, log }) {
    const total = short ? 12 : 67;
    const models = new TempModels();
    try {
      const source = await models.make({ preset: 'mistral-tiny', seed: 9, dtype: 'f16' });
      const original = await readFile(join(source, WEIGHTS));
      const mutations = fc.sample(mutation, { numRuns: total, seed: SEED });
      let crashes = 0;
      let refused = 0;
      let loaded = 0;
      const failures: string[] = [];
      for (const [i, m] of mutations.entries()) {
        const dir = join(models.root, `variant-${i}`);
        await mkdir(dir);
        for (const f of ['config.json', 'tokenizer.json', 'tokenizer_config.json']) await copyFile(join(source, f), join(dir, f)).catch(() => undefined);
        const { bytes, tensor } = mutate(original, m);
        await writeFile(join(dir, WEIGHTS), bytes);
        const r = await tryNode(dir);
        const last = r.stderr.trim().split('\n').slice(-2).join(' ');
        if (r.ready) loaded++; // still a valid model (a shift that kept the tiling, a harmless byte)
        else if (r.signal !== null) {
          crashes++;
          failures.push(`${JSON.stringify(m)}: the node died of ${r.signal}: ${last}`);
        } else {
          refused++;
          if (!r.stderr.includes(WEIGHTS)) failures.push(`${JSON.stringify(m)}: the error names no file: ${last}`);
          // dtype and shape errors are the tensor's own; moved offsets and a dropped entry show
          // as a gap or overlap between neighbours, which the message names instead.
          else if (tensor !== null && (m.kind === 'dtype' || m.kind === 'shape') && !r.stderr.includes(tensor)) failures.push(`${JSON.stringify(m)}: the error does not name ${tensor}: ${last}`);
          else if (tensor !== null && m.kind !== 'dtype' && m.kind !== 'shape' && !/tensors? [A-Za-z_][\w.]*\.weight/.test(r.stderr)) failures.push(`${JSON.stringify(m)}: the error names no tensor: ${last}`);
        }
        if ((i + 1) % 10 === 0) log(`${i + 1}/${total} variants`);
      }
      return {
        figure: `${total} corrupt files (seed ${SEED}): ${refused} refused with a message, ${loaded} still valid and served, ${crashes} crashes`,
        pass: crashes === 0 && failures.length === 0,
        notes: failures.slice(0, 10),
      };
    } finally {
      models.cleanup();
    }
  },
};
