// The CLI's manners: every verb (and sub-verb) answers --help with its usage on stdout and exit
// 0, `sirocco --version` names the version, an unknown verb is exit 1 with the list, and the
// embedded store's default folder does not depend on the working directory, and AWS errors say
// which variable to set. And src/ never imports weights-tools/ (the edge bundle takes src/ only).
// The npm scripts that run a TypeScript file (bench, chaos) answer --help the same way, and an
// unknown option or a bad value exits 2 with what was wrong and the usage, not a stack trace.
import { execFile } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { resolveDataDir } from '../src/gateway/cli/data_dir.ts';
import { describeS3Error } from '../src/weights/s3_errors.ts';

const run = promisify(execFile);
const sirocco = (...args: string[]) => run(process.execPath, ['bin/sirocco.js', ...args], { encoding: 'utf8' });

// `npm run NAME` scripts that run a TypeScript file: [name, file].
const scripts = Object.entries((JSON.parse(readFileSync('package.json', 'utf8')) as { scripts: Record<string, string> }).scripts)
  .map(([name, command]) => [name, /^node --import tsx (\S+\.ts)$/.exec(command)?.[1]] as const)
  .filter((s): s is readonly [string, string] => s[1] !== undefined);
const script = (file: string, ...args: string[]) => run(process.execPath, ['--import', 'tsx', file, ...args], { encoding: 'utf8' });

const verbs = ['make-tiny', 'serve', 'start', 'make-default-model', 'node', 'edge-node', 'gateway', 'weights', 'weights push', 'weights pull', 'weights verify', 'weights quantize', 'keys', 'usage', 'batch', 'logits'];

describe('sirocco CLI', () => {
  it.each(verbs)('%s --help prints usage and exits 0', async (verb) => {
    const { stdout } = await sirocco(...verb.split(' '), '--help');
    expect(stdout).toMatch(/usage/i);
  });

  it('finds the bench and chaos scripts', () => {
    expect(scripts.map(([name]) => name)).toEqual(expect.arrayContaining(['bench', 'bench:ab', 'bench:gateway', 'bench:batch', 'chaos']));
  });

  it.each(scripts)('npm run %s -- --help prints usage and exits 0; a bad option exits 2 with the usage', async (name, file) => {
    expect((await script(file, '--help')).stdout).toMatch(new RegExp(`^usage: npm run ${name} `));
    const failure = await script(file, '--no-such-option').then(
      () => null,
      (err: { code: number; stderr: string }) => err,
    );
    expect(failure?.code).toBe(2);
    expect(failure?.stderr).toMatch(/Unknown option '--no-such-option'\n\nusage: /);
    expect(failure?.stderr).not.toMatch(/\n\s+at /);
  });

  it('--version names the version; an unknown verb exits 1 listing the verbs', async () => {
    expect((await sirocco('--version')).stdout).toMatch(/^sirocco \d+\.\d+\.\d+ \(node v\d+/);
    const failure = await sirocco('frobnicate').then(
      () => null,
      (err: { code: number; stderr: string }) => err,
    );
    expect(failure?.code).toBe(1);
    expect(failure?.stderr).toContain("unknown verb 'frobnicate'");
    expect(failure?.stderr).toContain('serve');
  });

  it('no module of src/ imports weights-tools/', () => {
    const files = (readdirSync('src', { recursive: true }) as string[]).filter((f) => f.endsWith('.ts'));
    expect(files.length).toBeGreaterThan(100);
    const offenders = files.filter((f) => /from '[^']*weights-tools\/|import\('[^']*weights-tools\//.test(readFileSync(join('src', f), 'utf8')));
    expect(offenders).toEqual([]);
  });

  it('the data dir is --data, else $SIROCCO_DATA_DIR, else ~/.sirocco, wherever the command runs', () => {
    expect(resolveDataDir(undefined, {}, '/somewhere')).toBe(join(homedir(), '.sirocco'));
    expect(resolveDataDir(undefined, {}, '/elsewhere')).toBe(join(homedir(), '.sirocco'));
    expect(resolveDataDir(undefined, { SIROCCO_DATA_DIR: '/srv/sirocco' }, '/x')).toBe('/srv/sirocco');
    expect(resolveDataDir('rel', {}, '/x')).toBe('/x/rel');
  });

  it('AWS errors name the variable to set', () => {
    const uri = 's3://bucket/model';
    expect(describeS3Error(Object.assign(new Error('Region is missing'), { name: 'Error' }), uri)).toMatch(/set AWS_REGION/);
    expect(describeS3Error(Object.assign(new Error('Could not load credentials from any providers'), { name: 'CredentialsError' }), uri)).toMatch(/AWS_ACCESS_KEY_ID .*AWS_PROFILE/);
    expect(describeS3Error(Object.assign(new Error('denied'), { name: 'AccessDenied' }), uri)).toMatch(/AWS_ACCESS_KEY_ID \/ AWS_PROFILE/);
  });
});
