// Loads XGrammar's web build (@mlc-ai/web-xgrammar, C++ compiled to WebAssembly) into Node.
//
// The package says "type": "module" but ships a UMD/CommonJS bundle (it calls require() and
// reads __filename), so `import '@mlc-ai/web-xgrammar'` fails in Node with "require is not
// defined in ES module scope". The bundle is therefore evaluated here as CommonJS, with the
// usual module wrapper arguments. Its one dynamic import, emscripten's
// `await import('module')`, becomes `require('module')`: code compiled at run time has no
// import() where the host gives it none (vitest's module runner does not). Its WebAssembly is
// inlined as base64, so no .wasm file has to be located; the binding itself starts lazily on
// the first call that needs it (~50 ms).
import * as fs from 'node:fs';
import { createRequire } from 'node:module';
import * as path from 'node:path';

export type XGrammar = typeof import('@mlc-ai/web-xgrammar');

const packageName = '@mlc-ai/web-xgrammar';
let loaded: XGrammar | null = null;

const dynamicImport = "await import('module')";

function evaluateAsCommonJs(file: string): unknown {
  const parts = fs.readFileSync(file, 'utf8').split(dynamicImport);
  if (parts.length !== 2) throw new Error(`${file}: expected one ${dynamicImport}, found ${parts.length - 1}: unsupported ${packageName} version`);
  const source = parts.join("require('module')");
  const module = { exports: {} as Record<string, unknown> };
  const wrapper = new Function('exports', 'require', 'module', '__filename', '__dirname', `${source}\n//# sourceURL=${file}`);
  wrapper.call(module.exports, module.exports, createRequire(file), module, file, path.dirname(file));
  return module.exports;
}

/** XGrammar's classes (Grammar, GrammarCompiler, GrammarMatcher, TokenizerInfo …), loaded once. */
export function xgrammar(): XGrammar {
  if (loaded !== null) return loaded;
  const file = createRequire(import.meta.url).resolve(packageName);
  const exports = evaluateAsCommonJs(file) as Partial<XGrammar>;
  for (const name of ['GrammarCompiler', 'GrammarMatcher', 'TokenizerInfo'] as const) {
    if (typeof exports[name] !== 'function') throw new Error(`${packageName} (${file}) does not export ${name}: unsupported version`);
  }
  loaded = exports as XGrammar;
  return loaded;
}
