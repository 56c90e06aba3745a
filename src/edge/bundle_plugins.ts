// esbuild plugins the edge node's builds share: Node's modules kept as imports (workerd) or
// stubbed (browser), and modules an edge node never runs left out.
import { builtinModules } from 'node:module';
import type { Plugin } from 'esbuild';

// Node's built-in modules stay imports (workerd provides them, as `node:` modules); those that
// bundled CommonJS code require() get a require() that answers them from those imports, as
// an ES module has no require of its own.
export function nodeBuiltins(required: Set<string>): Plugin {
  const names = new Set(builtinModules);
  return {
    name: 'node-builtins',
    setup(b) {
      b.onResolve({ filter: /^[a-z_/]+$|^node:/ }, (args) => {
        const name = args.path.replace(/^node:/, '');
        if (!names.has(name)) return undefined;
        if (args.kind === 'require-call') required.add(name);
        return { path: `node:${name}`, external: true };
      });
    },
  };
}

// Modules an edge node never runs, left out: the built-in Mistral vocabularies for model
// directories without tokenizer.json (the edge node is given tokenizer.json), 0.6 MB of the bundle.
const LEFT_OUT = /\/tokenizer\/mistral_v[13]_tokenizer\.ts$/;
export function leaveOut(): Plugin {
  return {
    name: 'leave-out',
    setup(b) {
      b.onLoad({ filter: LEFT_OUT }, (args) => ({ contents: `throw new Error(${JSON.stringify(`${args.path} is not in the edge bundle`)});`, loader: 'js' }));
    },
  };
}

export function requireShim(required: Set<string>): string {
  const names = [...required].sort();
  const imports = names.map((n, i) => `import * as __node${i} from 'node:${n}';`).join('\n');
  const table = names.map((n, i) => `${JSON.stringify(n)}: __node${i}`).join(', ');
  return `${imports}\nconst __nodeModules = { ${table} };\n` +
    `const require = (name) => { const m = __nodeModules[name.replace(/^node:/, '')]; if (!m) throw new Error('the edge bundle cannot require ' + name); return m.default ?? m; };\n`;
}

// For the browser: Node's modules the shared code imports, but never calls there, are empty —
// but for path joining, which model_files.ts does on the names it is given.
const NODE_STUB = 'node-stub';
const PATH_SHIM = `const join = (...p) => p.filter(Boolean).join('/').replace(/\\/+/g, '/');
module.exports = { join, resolve: join, basename: (p) => p.split('/').pop(), dirname: (p) => p.split('/').slice(0, -1).join('/') || '.', relative: (a, b) => b, sep: '/' };`;
export function nodeStubs(): Plugin {
  const names = new Set(builtinModules);
  return {
    name: 'node-stubs',
    setup(b) {
      b.onResolve({ filter: /^[a-z_/]+$|^node:/ }, (args) => (names.has(args.path.replace(/^node:/, '')) ? { path: args.path.replace(/^node:/, ''), namespace: NODE_STUB } : undefined));
      b.onLoad({ filter: /.*/, namespace: NODE_STUB }, (args) => ({ contents: args.path === 'path' ? PATH_SHIM : 'module.exports = {};', loader: 'js' }));
    },
  };
}
