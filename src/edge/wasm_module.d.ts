// A .wasm file imported by a worker module: the runtime hands it over compiled (workerd's
// `wasm` module type; esbuild leaves the import to it).
declare module '*.wasm' {
  const module: WebAssembly.Module;
  export default module;
}
