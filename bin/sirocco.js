#!/usr/bin/env node
// Entry point of the `sirocco` CLI. Sources are TypeScript, run through tsx's loader so a
// fresh clone needs no build step beyond `npm install` (which builds the native addon).
import { register } from 'tsx/esm/api';

register();
const { main } = await import('../src/cli/main.ts');
const { toolVerbs } = await import('../weights-tools/cli_verbs.ts');
process.exitCode = await main(process.argv.slice(2), toolVerbs);
