#!/usr/bin/env node
// Builds the engine to WebAssembly: build/wasm/sirocco.wasm, a WASI reactor with SIMD128.
// The sources are binding.gyp's, less the Node binding and what needs threads, mmap or x86
// (native/wasm/ holds their single-threaded stand-ins), so a new engine file is built here too.
// Toolchain: Debian's clang, lld and wasi sysroot (../../README.md, MACHINE-NOTES). Without it
// this prints what to install and, with --if-toolchain (npm install), exits 0: the native
// engine does not need it.
import { execFile } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, readdirSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';

const run = promisify(execFile);
const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const out = join(root, 'build', 'wasm');
const APT = 'apt-get install -y clang lld wasi-libc libclang-rt-dev-wasm32 libc++-14-dev-wasm32 libc++abi-14-dev-wasm32';

if (process.argv.includes('--help')) {
  process.stdout.write(`usage: node native/wasm/build.mjs [--if-toolchain]
Builds build/wasm/sirocco.wasm (the engine for --backend wasm) with clang's wasm32-wasi target.
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

// The engine_api.h calls the JS side uses, and the flat ones of wasm_api.cpp.
const EXPORTS = [
  'malloc', 'free', 'engine_last_error', 'engine_cpu_isas', 'engine_kv_block_slots', 'engine_free',
  'engine_load_slice', 'engine_load_finish', 'engine_seq_create', 'engine_seq_reset', 'engine_seq_free',
  'engine_seq_truncate', 'engine_seq_length', 'engine_step_logit_rows', 'engine_step',
  'wasm_engine_create', 'wasm_engine_load_plan', 'wasm_engine_info',
];

const FLAGS = ['--target=wasm32-wasi', '--sysroot=/usr', '-O3', '-msimd128', '-fno-exceptions', '-std=c++17',
  '-ffp-contract=off', '-fno-math-errno', '-Wall', '-Wextra', '-Wno-unused-parameter'];

async function toolchainMissing() {
  try {
    await run('clang++', ['--version']);
  } catch {
    return 'clang++ is not installed';
  }
  try {
    await run('wasm-ld', ['--version']);
  } catch {
    return 'wasm-ld (lld) is not installed';
  }
  if (!existsSync('/usr/include/wasm32-wasi/c++/v1')) return 'the wasm32-wasi sysroot and libc++ are not installed';
  return null;
}

function sources() {
  const gyp = JSON.parse(readFileSync(join(root, 'binding.gyp'), 'utf8'));
  const native = gyp.targets[0].sources.filter((s) => !NATIVE_ONLY.has(s) && !X86_KERNELS.test(s));
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

async function main() {
  const missing = await toolchainMissing();
  if (missing) {
    process.stderr.write(`wasm build: ${missing}; the WASM engine (--backend wasm) is not built. To build it: ${APT} && npm run build:wasm\n`);
    process.exit(process.argv.includes('--if-toolchain') ? 0 : 1);
  }
  mkdirSync(join(out, 'obj'), { recursive: true });
  const files = sources();
  const includes = includeDirs();
  const objects = files.map((f) => join(out, 'obj', f.replaceAll('/', '_').replace(/\.cpp$/, '.o')));
  let done = 0;
  const compile = async (i) => {
    await run('clang++', [...FLAGS, ...includes, '-c', join(root, files[i]), '-o', objects[i]]);
    done++;
    if (process.stderr.isTTY) process.stderr.write(`\rwasm build: compiled ${done}/${files.length}`);
  };
  const queue = files.map((_, i) => i);
  const workers = Array.from({ length: 2 }, async () => {
    for (let i = queue.shift(); i !== undefined; i = queue.shift()) await compile(i);
  });
  await Promise.all(workers);
  const wasm = join(out, 'sirocco.wasm');
  await run('clang++', [...FLAGS, '-mexec-model=reactor', ...objects, '-o', wasm, ...EXPORTS.map((e) => `-Wl,--export=${e}`)]);
  process.stderr.write(`${process.stderr.isTTY ? "\r" : ""}wasm build: ${relative(root, wasm)} (${files.length} sources)\n`);
}

main().catch((err) => {
  process.stderr.write(`\nwasm build failed: ${err.stderr || err.message}\nIs the whole toolchain installed? ${APT}\n`);
  process.exit(1);
});
