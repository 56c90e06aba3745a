// `sirocco weights <push|pull|verify|quantize> …`: moving and converting model weights.
const subverbs: Record<string, { summary: string; run: (argv: string[]) => Promise<number> }> = {
  push: {
    summary: 'upload a model directory to s3://bucket/prefix with a manifest (written last)',
    run: async (argv) => (await import('./storage_cli.ts')).runPush(argv),
  },
  pull: {
    summary: 'download a model (s3://…) into a directory, verifying every checksum',
    run: async (argv) => (await import('./storage_cli.ts')).runPull(argv),
  },
  verify: {
    summary: 'check a stored model against its manifest checksums',
    run: async (argv) => (await import('./storage_cli.ts')).runVerify(argv),
  },
  quantize: {
    summary: 'write a q8_0 or q4_0 copy of a model',
    run: async (argv) => (await import('./quantize_cli.ts')).runQuantize(argv),
  },
};

export async function runWeights(argv: string[]): Promise<number> {
  const [name, ...rest] = argv;
  const sub = name === undefined ? undefined : subverbs[name];
  if (!sub) {
    const lines = Object.entries(subverbs).map(([n, s]) => `  ${n.padEnd(9)} ${s.summary}`);
    (name === undefined || name === '--help' ? process.stdout : process.stderr).write(
      `${name && name !== '--help' ? `sirocco weights: unknown subcommand '${name}'\n\n` : ''}usage: sirocco weights <subcommand> [options]\n\n${lines.join('\n')}\n`,
    );
    return name === '--help' ? 0 : 1;
  }
  return sub.run(rest);
}
