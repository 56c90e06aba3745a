// Loads XGrammar's web build (@mlc-ai/web-xgrammar, C++ compiled to WebAssembly) into Node.
//
// The package says "type": "module" but ships a UMD/CommonJS bundle (it calls require() and
// reads __filename), so `import '@mlc-ai/web-xgrammar'` fails in Node with "require is not
// defined in ES module scope". The bundle is therefore evaluated here as CommonJS, with the
// usual module wrapper arguments. Its WebAssembly is inlined as base64, so no .wasm file has to
// be located; the binding itself starts lazily on the first call that needs it (~50 ms).
import * as fs from 'node:fs';
import { createRequire } from 'node:module';
import * as path from 'node:path';

export type XGrammar = typeof import('@mlc-ai/web-xgrammar');

const packageName = '@mlc-ai/web-xgrammar';
let loaded: XGrammar | null = null;

function evaluateAsCommonJs(file: string): unknown {
  const source = fs.readFileSync(file, 'utf8');
  const module = { exports: {} as Record<string, unknown> };
  // new Function rather than vm: the bundle's one dynamic import (`import('module')`) then goes
  // through Node's default loader without any experimental vm flag or warning.
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
