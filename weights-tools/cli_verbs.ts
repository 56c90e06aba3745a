// The CLI verbs that live in weights-tools/ (src/ never imports it): bin/sirocco.js hands them
// to src/cli/main.ts beside its own. Each is loaded only when asked for.
import type { Verb } from '../src/cli/main.ts';

export const toolVerbs: Record<string, Verb> = {
  'make-tiny': {
    summary: 'write a deterministic random-weight model in Hugging Face layout',
    run: async (argv) => (await import('./make_tiny_cli.ts')).runMakeTiny(argv),
  },
  weights: {
    summary: 'push, pull, verify or quantize model weights',
    run: async (argv) => (await import('./weights_cli.ts')).runWeights(argv),
  },
};
