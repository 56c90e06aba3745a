#!/usr/bin/env node
// Builds the engine to WebAssembly: build/wasm/sirocco.wasm, a WASI reactor with SIMD128, and
// build/wasm/sirocco-relaxed.wasm, the same with relaxed SIMD too (the wasm_relaxed_simd table),
// for the hosts that have it (src/engine/wasm_relaxed_probe.ts picks one).
// The sources are binding.gyp's, less the Node binding and what needs threads, mmap or x86
// (native/wasm/ holds their single-threaded stand-ins), so a new engine file is built here too.
// Toolchain: Debian's clang 19, lld and wasi sysroot (../../README.md, MACHINE-NOTES). Without
// it this prints what to install and, with --if-toolchain (npm install), exits 0: the native
// engine does not need it.
import { execFile } from 'node:child_process';
import { mkdirSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';

const run = promisify(execFile);
const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const out = join(root, 'build', 'wasm');
const APT = 'apt-get install -y clang-19 lld-19 wasi-libc libclang-rt-19-dev-wasm32 libc++-19-dev-wasm32 libc++abi-19-dev-wasm32';
// clang 16 fixed relaxed SIMD's opcodes; Debian 12 has 19 (and 14, too old for them).
const COMPILERS = ['clang++-19', 'clang++'];

if (process.argv.includes('--help')) {
  process.stdout.write(`usage: node native/wasm/build.mjs [--if-toolchain]
Builds build/wasm/sirocco.wasm and sirocco-relaxed.wasm (the engine for --backend wasm, without
and with relaxed SIMD) with clang's wasm32-wasi target.
  --if-toolchain   without the toolchain, say so and exit 0 (npm install uses this)
Toolchain (Debian): ${APT}
`);
  process.exit(0);
}

// Files replaced by native/wasm/ (or not needed: the addon and its bandwidth probe).
const NATIVE_ONLY = new Set([
  'native/binding/addon.cpp',
  'native/backend/cpu/bandwidth.cpp',
  'native/backend/cpu/thread_pool.cpp',
  'native/engine/shard_runner.cpp',
  'native/engine/communicator_local.cpp',
  'native/engine/weight_files.cpp',
  'native/backend/cpu/weight_arena.cpp',
]);
const X86_KERNELS = /_(avx2|avx512)\.cpp$/;
// Compiled again, with -mrelaxed-simd, for sirocco-relaxed.wasm: the relaxed kernels and the
// file that lists the tables (it adds theirs when __wasm_relaxed_simd__ is defined).
const RELAXED = /_wasm_relaxed_simd\.cpp$|\/kernels_select\.cpp$/;

// The engine_api.h calls the JS side uses, and the flat ones of wasm_api.cpp.
const EXPORTS = [
  'malloc', 'free', 'engine_last_error', 'engine_cpu_isas', 'engine_kv_block_slots', 'engine_free',
  'engine_load_slice', 'engine_load_finish', 'engine_seq_create', 'engine_seq_reset', 'engine_seq_free',
  'engine_seq_truncate', 'engine_seq_length', 'engine_step_logit_rows', 'engine_step', 'engine_logits_scan',
  'engine_logits_sample', 'engine_logits_logprobs',
  'wasm_engine_create', 'wasm_engine_load_plan', 'wasm_engine_info',
];

const FLAGS = ['--target=wasm32-wasi', '--sysroot=/usr', '-O3', '-msimd128', '-fno-exceptions', '-std=c++17',
  '-ffp-contract=off', '-fno-math-errno', '-Wall', '-Wextra', '-Wno-unused-parameter'];

// The first compiler that builds and links a C++ program for wasm32-wasi, and whether it has
// relaxed SIMD; or why none does (the last one's first words).
async function findCompiler() {
  const dir = join(out, 'probe');
  mkdirSync(dir, { recursive: true });
  const probe = async (cxx, name, code, flags) => {
    writeFileSync(join(dir, `${name}.cpp`), code);
    await run(cxx, [...FLAGS, ...flags, join(dir, `${name}.cpp`), '-o', join(dir, `${name}.wasm`)]);
  };
  let why = '';
  for (const cxx of COMPILERS) {
    try {
      await probe(cxx, 'cxx', '#include <vector>\nint main() { std::vector<int> v{0}; return v[0]; }\n', []);
    } catch (err) {
      why = err.code === 'ENOENT' ? `${cxx} is not installed` : `${cxx} cannot build for wasm32-wasi: ${String(err.stderr).split('\n')[0]}`;
      continue;
    }
    const relaxed = await probe(cxx, 'relaxed', '#include <wasm_simd128.h>\nint main() { v128_t v = wasm_i32x4_splat(1);\n' +
      '  return wasm_i32x4_extract_lane(wasm_i32x4_relaxed_dot_i8x16_i7x16_add(v, v, v), 0); }\n', ['-mrelaxed-simd']).then(() => true, () => false);
    return { cxx, relaxed };
  }
  return { why };
}

function sources() {
  const gyp = JSON.parse(readFileSync(join(root, 'binding.gyp'), 'utf8'));
  const native = gyp.targets[0].sources.filter((s) => !NATIVE_ONLY.has(s) && !X86_KERNELS.test(s));
  // (binding.gyp lists the relaxed kernels too: the x86 build compiles them to nothing)
  const wasm = readdirSync(join(root, 'native', 'wasm')).filter((f) => f.endsWith('.cpp')).map((f) => `native/wasm/${f}`);
  return [...native, ...wasm];
}

function includeDirs() {
  const dirs = [];
  const walk = (d) => {
    dirs.push(d);
    for (const e of readdirSync(join(root, d), { withFileTypes: true })) if (e.isDirectory()) walk(`${d}/${e.name}`);
  };
  walk('native');
  return dirs.map((d) => `-I${join(root, d)}`);
}

const objectPath = (dir, file) => join(out, dir, file.replaceAll('/', '_').replace(/\.cpp$/, '.o'));

// Compiles files[i] to objects[i], two at a time.
async function compileAll(cxx, files, objects, flags, label) {
  const includes = includeDirs();
  let done = 0;
  const queue = files.map((_, i) => i);
  const worker = async () => {
    for (let i = queue.shift(); i !== undefined; i = queue.shift()) {
      await run(cxx, [...FLAGS, ...flags, ...includes, '-c', join(root, files[i]), '-o', objects[i]]);
      done++;
      if (process.stderr.isTTY) process.stderr.write(`\rwasm build: ${label} ${done}/${files.length}`);
    }
  };
  await Promise.all([worker(), worker()]);
}

async function link(cxx, objects, wasm) {
  await run(cxx, [...FLAGS, '-mexec-model=reactor', ...objects, '-o', wasm, ...EXPORTS.map((e) => `-Wl,--export=${e}`)]);
  process.stderr.write(`${process.stderr.isTTY ? '\r' : ''}wasm build: ${relative(root, wasm)}\n`);
}

async function main() {
  const { cxx, relaxed, why } = await findCompiler();
  if (!cxx) {
    process.stderr.write(`wasm build: ${why}; the WASM engine (--backend wasm) is not built. To build it: ${APT} && npm run build:wasm\n`);
    process.exit(process.argv.includes('--if-toolchain') ? 0 : 1);
  }
  for (const dir of ['obj', 'obj-relaxed']) mkdirSync(join(out, dir), { recursive: true });
  const files = sources();
  const base = files.filter((f) => !/_wasm_relaxed_simd\.cpp$/.test(f));
  const objects = base.map((f) => objectPath('obj', f));
  await compileAll(cxx, base, objects, [], 'compiled');
  await link(cxx, objects, join(out, 'sirocco.wasm'));
  const relaxedWasm = join(out, 'sirocco-relaxed.wasm');
  if (!relaxed) {
    rmSync(relaxedWasm, { force: true });
    process.stderr.write(`wasm build: ${cxx} has no relaxed SIMD, so no sirocco-relaxed.wasm (clang 16 or later has: ${APT})\n`);
    return;
  }
  const again = files.filter((f) => RELAXED.test(f));
  const relaxedObjects = again.map((f) => objectPath('obj-relaxed', f));
  await compileAll(cxx, again, relaxedObjects, ['-mrelaxed-simd'], 'compiled with relaxed SIMD');
  await link(cxx, [...objects.filter((_, i) => !RELAXED.test(base[i])), ...relaxedObjects], relaxedWasm);
}

main().catch((err) => {
  process.stderr.write(`\nwasm build failed: ${err.stderr || err.message}\nIs the whole toolchain installed? ${APT}\n`);
  process.exit(1);
});
