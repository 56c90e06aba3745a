import { createRequire } from 'node:module';

// `sirocco <verb>`: one CLI for every tool. Each verb lives in its own module and is loaded
// only when asked for, so `sirocco make-tiny` does not load the native engine.
// The weights tools' verbs (make-tiny, weights) come from bin/sirocco.js: src/ never imports
// weights-tools/.
export type Verb = { summary: string; run: (argv: string[]) => Promise<number> };

const ownVerbs: Record<string, Verb> = {
  serve: {
    summary: 'serve a model in one command: a node and a gateway, a key and a curl',
    run: async (argv) => (await import('./start.ts')).runServe(argv, 'serve'),
  },
  start: {
    summary: 'serve the built-in default model, or --model … (npm start)',
    run: async (argv) => (await import('./start.ts')).runServe(argv, 'start'),
  },
  'make-default-model': {
    summary: 'generate the built-in default model into models/default if it is missing or outdated',
    run: async (argv) => {
      if (argv.length > 0) {
        const help = argv.every((a) => a === '--help' || a === '-h');
        (help ? process.stdout : process.stderr).write('usage: sirocco make-default-model   (no options; npm install runs it)\n');
        return help ? 0 : 1;
      }
      (await import('./start.ts')).ensureDefaultModel();
      return 0;
    },
  },
  node: {
    summary: 'run an inference node (internal API for gateways)',
    run: async (argv) => (await import('./node.ts')).runNode(argv),
  },
  'edge-node': {
    summary: 'run an edge node: the WASM engine in workerd (the edge runtime), internal API for gateways',
    run: async (argv) => (await import('./edge_node.ts')).runEdgeNode(argv),
  },
  gateway: {
    summary: 'run the OpenAI-compatible gateway in front of nodes',
    run: async (argv) => (await import('./gateway.ts')).runGateway(argv),
  },
  keys: {
    summary: 'create, list or revoke gateway API keys',
    run: async (argv) => (await import('../gateway/cli/keys_cli.ts')).runKeys(argv),
  },
  usage: {
    summary: 'summarise the usage ledger (tokens and requests per key and model)',
    run: async (argv) => (await import('../gateway/cli/usage_cli.ts')).runUsage(argv),
  },
  batch: {
    summary: 'run an OpenAI Batch input file (JSONL) through a model: resumable, in input order',
    run: async (argv) => (await import('./batch.ts')).runBatchCli(argv),
  },
  logits: {
    summary: 'run the engine on token ids and print greedy tokens and logits as JSON',
    run: async (argv) => (await import('./logits.ts')).runLogits(argv),
  },
};

function usage(verbs: Record<string, Verb>): string {
  const lines = Object.entries(verbs).map(([name, v]) => `  ${name.padEnd(12)} ${v.summary}`);
  return `usage: sirocco <verb> [options]\n\nverbs:\n${lines.join('\n')}\n\nRun 'sirocco <verb> --help' for a verb's options.\n`;
}

export async function main(argv: string[], toolVerbs: Record<string, Verb> = {}): Promise<number> {
  const verbs = { ...toolVerbs, ...ownVerbs };
  const [name, ...rest] = argv;
  if (name === '--version' || name === '-v') {
    const { version } = createRequire(import.meta.url)('../../package.json') as { version: string };
    process.stdout.write(`sirocco ${version} (node ${process.version})\n`);
    return 0;
  }
  if (name === undefined || name === '--help' || name === '-h') {
    process.stdout.write(usage(verbs));
    return name === undefined ? 1 : 0;
  }
  const verb = verbs[name];
  if (!verb) {
    process.stderr.write(`sirocco: unknown verb '${name}'\n\n${usage(verbs)}`);
    return 1;
  }
  try {
    return await verb.run(rest);
  } catch (err) {
    // Errors reaching here are bugs or environment problems; say what happened, exit 1.
    process.stderr.write(`sirocco ${name}: ${err instanceof Error ? err.message : String(err)}\n`);
    return 1;
  }
}
