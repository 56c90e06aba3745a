// Builds llama.cpp's CPU backend, and llama_side_bench.cpp against it, from the copies of
// llama.cpp's sources that two npm packages carry (the machines reach the npm registry and
// Debian only; MACHINE-NOTES.md). Both packages are pinned and hold the same llama.cpp commit
// (b10256, 6c8dcaa):
// - @fugood/llama.node: ggml's headers, the ggml-cpu backend (llamafile's sgemm and the AMX
//   kernels included), libllama — but not ggml's core;
// - llama.rn: ggml's core (ggml.c, ggml-backend, gguf, …), every symbol prefixed lm_ (React
//   Native's build), which is taken off here (the files then match the other package's
//   byte for byte where both carry them).
// Flags as llama.cpp's CMake build gives by default: -O3 -march=native (GGML_NATIVE), OpenMP,
// llamafile's sgemm, the repacked CPU kernels, and AMX where the CPU has it. The `no-amx`
// build leaves AMX out of ggml-cpu (-mno-amx-*): llama.cpp as on a CPU without it; the `avx2`
// build is -march=znver3 throughout: what a Zen 3 (AVX2, FMA, F16C; no AVX-512, VNNI or AMX)
// gets from -march=native, for the AVX2 machine class.
// One exception: the AMX matmul file is compiled with clang-19, as GCC 12 (Debian 12's) drops
// the stores that fill its tile configuration before ldtilecfg, and its first tileloadd
// faults (SIGILL) — the build a Debian 12 user gets from llama.cpp's CMake crashes so on an
// AMX CPU.
import { execFileSync, spawn } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { cpus } from 'node:os';
import { basename, join, resolve } from 'node:path';

export const LLAMA_NODE = '@fugood/llama.node@1.7.15';
export const LLAMA_RN = 'llama.rn@0.12.9';
export const ROOT = resolve('.bench', 'llamacpp');

// ggml's core, which only llama.rn carries: its sources and private headers.
const CORE = ['ggml.c', 'ggml-alloc.c', 'ggml-quants.c', 'ggml-backend.cpp', 'ggml-backend-reg.cpp', 'ggml-backend-dl.cpp', 'ggml-backend-meta.cpp', 'ggml-opt.cpp', 'ggml-threading.cpp', 'gguf.cpp',
  'ggml-impl.h', 'ggml-common.h', 'ggml-backend-impl.h', 'ggml-quants.h', 'ggml-threading.h', 'ggml-backend-dl.h'];
const unprefix = (s: string) => s.replace(/LM_GGML_/g, 'GGML_').replace(/lm_ggml_/g, 'ggml_').replace(/lm_gguf_/g, 'gguf_').replace(/LM_GGUF_/g, 'GGUF_');

function fetchPackage(spec: string, into: string): string {
  const dir = join(into, basename(spec).replace(/@.*$/, ''));
  if (existsSync(join(dir, 'package.json'))) return dir;
  mkdirSync(into, { recursive: true });
  const tgz = execFileSync('npm', ['pack', spec, '--silent', '--pack-destination', into], { encoding: 'utf8' }).trim().split('\n').at(-1)!;
  mkdirSync(dir, { recursive: true });
  execFileSync('tar', ['xzf', join(into, tgz), '-C', dir, '--strip-components=1']);
  return dir;
}

function assembleTree(log: (s: string) => void): string {
  const tree = join(ROOT, 'tree');
  if (existsSync(join(tree, 'ggml', 'src', 'ggml.c'))) return tree;
  log(`fetching ${LLAMA_NODE} and ${LLAMA_RN} from npm …`);
  const node = fetchPackage(LLAMA_NODE, join(ROOT, 'pkgs')), rn = fetchPackage(LLAMA_RN, join(ROOT, 'pkgs'));
  const src = join(node, 'src', 'llama.cpp');
  rmSync(tree, { recursive: true, force: true });
  mkdirSync(join(tree, 'ggml', 'src'), { recursive: true });
  cpSync(join(src, 'ggml', 'include'), join(tree, 'ggml', 'include'), { recursive: true });
  cpSync(join(src, 'ggml', 'src', 'ggml-cpu'), join(tree, 'ggml', 'src', 'ggml-cpu'), { recursive: true });
  for (const d of ['src', 'include']) cpSync(join(src, d), join(tree, d), { recursive: true });
  for (const f of CORE) writeFileSync(join(tree, 'ggml', 'src', f), unprefix(readFileSync(join(rn, 'cpp', f), 'utf8')));
  return tree;
}

const hasClang19 = () => {
  try {
    execFileSync('clang++-19', ['--version'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
};
// "b10256 (6c8dcaa)": the llama.cpp release the packages copied, as llama.rn's build-info says.
export function llamaCppVersion(): string {
  const info = readFileSync(join(ROOT, 'pkgs', 'llama.rn', 'cpp', 'common', 'build-info.cpp'), 'utf8');
  return `b${/LLAMA_BUILD_NUMBER = (\d+)/.exec(info)?.[1] ?? '?'} (${/LLAMA_COMMIT = "(\w+)"/.exec(info)?.[1] ?? '?'})`;
}

const list = (dir: string, ext: RegExp) => readdirSync(dir).filter((f) => ext.test(f)).map((f) => join(dir, f));

// Runs jobs a CPU at a time; each job a compiler command line.
async function runJobs(what: string, jobs: { out: string; cmd: string[] }[], log: (s: string) => void): Promise<void> {
  const todo = jobs.filter((j) => !existsSync(j.out));
  log(`compiling ${what}: ${todo.length} files …`);
  let next = 0, done = 0;
  const worker = async () => {
    while (next < todo.length) {
      const j = todo[next++]!;
      const tmp = `${j.out}.tmp`;
      await new Promise<void>((ok, fail) => {
        const p = spawn(j.cmd[0]!, [...j.cmd.slice(1), '-o', tmp], { stdio: ['ignore', 'ignore', 'pipe'] });
        let err = '';
        p.stderr.on('data', (d) => (err += d));
        p.on('error', fail);
        p.on('close', (code) => (code === 0 ? ok() : fail(new Error(`${j.cmd.join(' ')} failed:\n${err.slice(-2000)}`))));
      });
      renameSync(tmp, j.out);
      if (++done % 20 === 0 || done === todo.length) log(`  compiled ${done}/${todo.length}`);
    }
  };
  await Promise.all(Array.from({ length: cpus().length }, worker));
}

export type LlamaBuild = 'native' | 'no-amx' | 'avx2';
const BUILD = {
  native: { march: 'native', name: '', cpuFlags: [] as string[], about: 'built -march=native' },
  'no-amx': { march: 'native', name: '_no_amx', cpuFlags: ['-mno-amx-tile', '-mno-amx-int8', '-mno-amx-bf16'], about: 'built without AMX' },
  avx2: { march: 'znver3', name: '_avx2', cpuFlags: [], about: "built -march=znver3 (AVX2 only, a Zen 3's ISA)" },
} satisfies Record<LlamaBuild, unknown>;
export const llamaBuildAbout = (build: LlamaBuild) => BUILD[build].about;

// The llama_side_bench binary of a build, built if missing (~10 minutes on 2 cores).
export async function buildLlamaCpp(build: LlamaBuild, log: (s: string) => void): Promise<string> {
  const { march, name, cpuFlags } = BUILD[build];
  const bin = join(ROOT, `llama_side_bench${name}`);
  const source = join(import.meta.dirname, 'llama_side_bench.cpp');
  if (existsSync(bin) && statSync(bin).mtimeMs >= statSync(source).mtimeMs) return bin;  // else (re)build: linked against the objects there
  const tree = assembleTree(log);
  const g = (...p: string[]) => join(tree, 'ggml', 'src', ...p);
  const defs = ['-DNDEBUG', '-D_GNU_SOURCE', '-DGGML_USE_CPU', '-DGGML_USE_LLAMAFILE', '-DGGML_USE_CPU_REPACK', '-DGGML_SCHED_MAX_COPIES=4'];
  const inc = [join(tree, 'ggml', 'include'), g(), g('ggml-cpu'), join(tree, 'include'), join(tree, 'src')].map((d) => `-I${d}`);
  const flags = ['-O3', `-march=${march}`, '-pthread', ...defs, ...inc];
  // ggml-cpu's objects depend on the ISA flags (one folder a build); the rest on -march only.
  const cpuSources = [...list(g('ggml-cpu'), /\.(c|cpp)$/), ...list(g('ggml-cpu', 'arch', 'x86'), /\.(c|cpp)$/), ...list(g('ggml-cpu', 'amx'), /\.cpp$/), ...list(g('ggml-cpu', 'llamafile'), /\.cpp$/)];
  const sharedSources = [...list(g(), /\.(c|cpp)$/), ...list(join(tree, 'src'), /\.cpp$/), ...list(join(tree, 'src', 'models'), /\.cpp$/)];
  const objDir = (name: string) => (mkdirSync(join(ROOT, name), { recursive: true }), join(ROOT, name));
  const job = (src: string, dir: string, extra: string[] = []) => {
    const out = join(dir, src.slice(tree.length + 1).replace(/\//g, '_') + '.o');
    const amxMatmul = build === 'native' && src.endsWith(join('amx', 'mmq.cpp'));
    const cc = amxMatmul ? ['clang++-19', '-std=gnu++17'] : src.endsWith('.c') ? ['gcc', '-std=gnu11', '-fopenmp', '-DGGML_USE_OPENMP'] : ['g++', '-std=gnu++17', '-fopenmp', '-DGGML_USE_OPENMP'];
    return { out, cmd: [...cc, ...flags, ...extra, '-c', src] };
  };
  if (build === 'native' && !hasClang19()) throw new Error("llama.cpp's AMX matmul needs clang-19 here (GCC 12 miscompiles it): apt-get install -y clang-19, or pass --no-amx");
  const shared = objDir(march === 'native' ? 'obj' : `obj-${build}`), cpu = objDir(`obj-cpu${name.replace(/_/g, '-')}`);
  const jobs = [...sharedSources.map((s) => job(s, shared)), ...cpuSources.map((s) => job(s, cpu, cpuFlags))];
  await runJobs(`llama.cpp (${BUILD[build].about})`, jobs, log);
  log('linking llama_side_bench …');
  execFileSync('g++', ['-std=gnu++17', '-O2', `-march=${march}`, '-fopenmp', ...inc, source, ...jobs.map((j) => j.out), '-o', bin, '-lpthread', '-ldl']);
  return bin;
}
