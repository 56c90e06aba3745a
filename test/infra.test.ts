// Checks of infra/ (Terraform for AWS): formatting; `terraform init` from the offline provider
// mirror, `validate` and `terraform test` against a mocked AWS provider; the gateway's start
// scripts, rendered by Terraform and run against a fake AWS CLI; and structural rules on the
// HCL itself, read through @cdktf/hcl2json. Without Terraform or the mirror the
// Terraform checks fail with the reason, or are reported skipped when SIROCCO_SKIP_TERRAFORM=1
// — never a silent pass.
import { execFile, spawnSync } from 'node:child_process';
import { cpSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parse } from '@cdktf/hcl2json';
import { afterAll, beforeAll, describe, expect, it, type TestContext } from 'vitest';

const INFRA = fileURLToPath(new URL('../infra', import.meta.url));
const SKIP_TERRAFORM = process.env.SIROCCO_SKIP_TERRAFORM === '1';
// Never ask the network (version checkpoints); colour codes would garble failure messages.
const TF_ENV = { ...process.env, CHECKPOINT_DISABLE: '1', TF_IN_AUTOMATION: '1', NO_COLOR: '1' };

// Placeholders for the variables every deployment must choose (tests/ files do the same).
const REQUIRED_VARIABLES = `
  sirocco_release_url = "https://releases.example.com/sirocco-0.1.0.tgz"
  certificate_arn     = "arn:aws:acm:xx-test-1:123456789012:certificate/00000000-0000-0000-0000-000000000000"`;

function files(dir: string, keep: (name: string) => boolean): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    if (name.startsWith('.')) return []; // .terraform, lock files
    return statSync(path).isDirectory() ? files(path, keep) : keep(name) ? [path] : [];
  });
}

// ── Terraform ────────────────────────────────────────────────────────────────────────────

type TfResult = { code: number; out: string };
function terraform(args: string[], cwd: string, env: NodeJS.ProcessEnv = TF_ENV): Promise<TfResult> {
  return new Promise((done) => {
    execFile('terraform', [...args], { cwd, env, maxBuffer: 64 << 20 }, (err, stdout, stderr) => {
      const code = err ? (typeof err.code === 'number' ? err.code : 127) : 0;
      done({ code, out: `${stdout}${stderr}`.replace(/\x1b\[[0-9;]*m/g, '') });
    });
  });
}

function findPluginDir(): { dir: string } | { missing: string } {
  const fromEnv = process.env.SIROCCO_TF_PLUGIN_DIR;
  const holdsAws = (dir: string) => existsSync(join(dir, 'registry.terraform.io', 'hashicorp', 'aws'));
  if (fromEnv) return holdsAws(fromEnv) ? { dir: fromEnv } : { missing: `SIROCCO_TF_PLUGIN_DIR=${fromEnv} holds no registry.terraform.io/hashicorp/aws` };
  const found = spawnSync('find', ['/', '-maxdepth', '3', '-type', 'd', '-name', 'registry.terraform.io'], { encoding: 'utf8' })
    .stdout.split('\n')
    .filter(Boolean)
    .map(dirname)
    .find(holdsAws);
  return found ? { dir: found } : { missing: 'no offline hashicorp/aws provider mirror (SIROCCO_TF_PLUGIN_DIR unset; `find / -maxdepth 3 -type d -name registry.terraform.io` found none)' };
}

function unavailable(ctx: TestContext, reason: string): never {
  if (SKIP_TERRAFORM) {
    console.warn(`infra: Terraform check SKIPPED because SIROCCO_SKIP_TERRAFORM=1: ${reason}`);
    ctx.skip(reason);
  }
  throw new Error(`${reason}. Install Terraform >= 1.11 and a hashicorp/aws provider mirror (its folder in SIROCCO_TF_PLUGIN_DIR), or set SIROCCO_SKIP_TERRAFORM=1 to skip these checks knowingly.`);
}

const hasTerraform = spawnSync('terraform', ['version'], { env: TF_ENV }).status === 0;

// Each infra/examples/*/example.tfvars becomes a run whose variables are that file's text, so
// the examples are planned with the same mocked provider as the tests.
function examplesTestFile(): string {
  const runs = files(join(INFRA, 'examples'), (n) => n === 'example.tfvars').map((path) => {
    const name = basename(dirname(path)).replace(/[^A-Za-z0-9]/g, '_');
    const body = readFileSync(path, 'utf8').trim().split('\n').map((l) => `    ${l}`).join('\n');
    return `run "example_${name}" {
  command = plan

  variables {
${body}
  }
  assert {
    condition     = output.model_uri == "s3://\${output.bucket_name}/\${var.model_prefix}" && output.node_discovery == "ec2:sirocco-node-group=\${var.name}:8081"
    error_message = "The example must deploy nodes serving its model prefix, found by the gateways."
  }
}`;
  });
  expect(runs.length, 'infra/examples/*/example.tfvars').toBeGreaterThanOrEqual(2);
  return `# Written by test/infra.test.ts from infra/examples/*/example.tfvars.\nmock_provider "aws" {\n  source          = "./tests/mocks"\n  override_during = plan\n}\n\nvariables {${REQUIRED_VARIABLES}\n}\n\n${runs.join('\n\n')}\n`;
}

// Splits the test files into `ways` groups of about equal run counts (greedy, largest first).
function splitTestFiles(dir: string, ways: number): { groups: string[][]; runs: number } {
  const testFiles = files(join(dir, 'tests'), (n) => n.endsWith('.tftest.hcl')).map((path) => ({
    path: relative(dir, path),
    runs: (readFileSync(path, 'utf8').match(/^run "/gm) ?? []).length,
  }));
  const groups = Array.from({ length: ways }, () => ({ paths: [] as string[], runs: 0 }));
  for (const file of testFiles.sort((a, b) => b.runs - a.runs)) {
    const lightest = groups.reduce((a, b) => (b.runs < a.runs ? b : a));
    lightest.paths.push(file.path);
    lightest.runs += file.runs;
  }
  return { groups: groups.map((g) => g.paths).filter((g) => g.length > 0), runs: testFiles.reduce((n, f) => n + f.runs, 0) };
}

type TerraformRuns = { init: TfResult; validate: Promise<TfResult>; tests: Promise<{ results: TfResult[]; runs: number }> };

describe('terraform', () => {
  let work: string | null = null; // a copy of infra/, so no .terraform or lock file lands in the repo
  let started: Promise<TerraformRuns> | null = null;
  afterAll(() => work && rmSync(work, { recursive: true, force: true }));

  // init once; then validate and `terraform test` run side by side (two processes for the tests:
  // most of their time goes into starting the provider, and there are two cores).
  function start(ctx: TestContext): Promise<TerraformRuns> {
    if (!hasTerraform) unavailable(ctx, 'terraform is not on PATH');
    const plugins = findPluginDir();
    if ('missing' in plugins) unavailable(ctx, plugins.missing);
    started ??= (async () => {
      const dir = (work = mkdtempSync(join(tmpdir(), 'sirocco-infra-')));
      cpSync(INFRA, dir, { recursive: true, filter: (src) => !basename(src).startsWith('.terraform') });
      writeFileSync(join(dir, 'tests', 'examples.tftest.hcl'), examplesTestFile());
      const env = { ...TF_ENV, TF_DATA_DIR: join(dir, '.terraform') };
      const init = await terraform(['init', '-backend=false', '-input=false', '-no-color', `-plugin-dir=${plugins.dir}`], dir, env);
      const notRun = Promise.resolve({ code: -1, out: 'not run: terraform init failed' });
      if (init.code !== 0) return { init, validate: notRun, tests: notRun.then((r) => ({ results: [r], runs: 0 })) };
      const { groups, runs } = splitTestFiles(dir, 2);
      return {
        init,
        validate: terraform(['validate', '-no-tests', '-no-color'], dir, env), // the tests are validated when they run
        tests: Promise.all(groups.map((g) => terraform(['test', '-no-color', ...g.map((f) => `-filter=${f}`)], dir, env))).then((results) => ({ results, runs })),
      };
    })();
    return started;
  }

  it('infra/ is formatted canonically (terraform fmt -check -recursive)', async (ctx) => {
    if (!hasTerraform) unavailable(ctx, 'terraform is not on PATH');
    const fmt = await terraform(['fmt', '-check', '-recursive', '-diff', '-no-color', INFRA], INFRA);
    expect(fmt.code, `terraform fmt found unformatted files:\n${fmt.out}`).toBe(0);
  });

  it('initialises offline from the provider mirror and validates', async (ctx) => {
    const { init, validate } = await start(ctx);
    expect(init.code, `terraform init failed:\n${init.out}`).toBe(0);
    const v = await validate;
    expect(v.code, `terraform validate failed:\n${v.out}`).toBe(0);
  });

  it('passes terraform test: modules, wiring and examples against a mocked AWS provider', async (ctx) => {
    const { results, runs } = await (await start(ctx)).tests;
    let passed = 0;
    for (const r of results) {
      expect(r.code, `terraform test failed:\n${r.out}`).toBe(0);
      passed += Number(/Success! (\d+) passed, 0 failed/.exec(r.out)?.[1] ?? NaN);
    }
    expect(passed, 'every run block ran (none filtered out or skipped)').toBe(runs);
  });
});

// ── The gateway's start scripts, rendered by Terraform and run against a fake AWS CLI ─────

// host_bootstrap creates no resources and needs no provider, so a plan of a configuration that
// only calls it renders the user data offline. Its scripts then run here with paths moved into
// a sandbox, `aws`, `systemctl` and `sleep` replaced by fakes, and the app by a stub that prints
// what it was started with.
describe('gateway start scripts with the shared database (rendered by terraform, run with a fake aws)', () => {
  const SECRET_ARN = 'arn:aws:secretsmanager:xx-test-1:123456789012:secret:rds!db-00000000-0000-0000-0000-000000000000-AbCdEf';
  const DB_HOST = 'sirocco-db.c0abcdefghij.xx-test-1.rds.amazonaws.com';
  // Every character that means something in a URL or a shell (RDS itself avoids / @ " and space).
  const PASSWORD = `p@ss:w/rd?#%&=+ $'"\`!{}[]~^;|<>*\\end`;
  let sandbox: string | null = null;
  let userData: { gateway: string; node: string } | null = null;
  afterAll(() => sandbox && rmSync(sandbox, { recursive: true, force: true }));

  async function render(ctx: TestContext): Promise<{ dir: string; gateway: string; node: string }> {
    if (!hasTerraform) unavailable(ctx, 'terraform is not on PATH');
    const dir = (sandbox ??= mkdtempSync(join(tmpdir(), 'sirocco-start-')));
    if (userData) return { dir, ...userData };
    const tf = join(dir, 'tf');
    cpSync(INFRA, join(tf, 'infra'), { recursive: true, filter: (src) => !basename(src).startsWith('.terraform') });
    const call = (service: string, extra: string) => `
module "${service}" {
  source            = "./infra/modules/host_bootstrap"
  service           = "${service}"
  release_url       = "https://releases.example.com/sirocco-0.1.0.tgz"
  nodejs_version    = "20.19.0"
  region            = "xx-test-1"
  args              = ["${service}", "--port", "8080"]
  secret_parameters = { SIROCCO_KEY_SECRET = "/sirocco/key-secret", SIROCCO_NODE_SECRET = "/sirocco/node-secret" }
${extra}
}
output "${service}" {
  value = module.${service}.user_data
}
`;
    const database = `  database = {\n    host = "${DB_HOST}"\n    port = 5432\n    name = "sirocco"\n    secret_arn = "${SECRET_ARN}"\n  }`;
    writeFileSync(join(tf, 'main.tf'), call('gateway', database) + call('node', ''));
    const env = { ...TF_ENV, TF_DATA_DIR: join(tf, '.terraform') };
    for (const args of [['init', '-backend=false', '-input=false', '-no-color'], ['plan', '-input=false', '-no-color', '-out=render.tfplan']]) {
      const r = await terraform(args, tf, env);
      expect(r.code, `terraform ${args[0]} failed:\n${r.out}`).toBe(0);
    }
    const shown = spawnSync('terraform', ['show', '-json', 'render.tfplan'], { cwd: tf, env, encoding: 'utf8', maxBuffer: 64 << 20 }); // stdout alone: JSON
    expect(shown.status, shown.stderr).toBe(0);
    const outputs = JSON.parse(shown.stdout).planned_values.outputs;
    userData = { gateway: outputs.gateway.value, node: outputs.node.value };
    return { dir, ...userData };
  }

  // The body of `cat > PATH <<'TAG' … TAG` in the user data.
  function written(userData: string, path: string): string {
    const m = new RegExp(`cat > ${path.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')} <<'(\\w+)'\\n([\\s\\S]*?)\\n\\1\\n`).exec(userData);
    expect(m, `user data writes ${path}`).not.toBeNull();
    return m![2]!;
  }

  // Installs the gateway's files in the sandbox (absolute paths moved), with the fakes.
  function install(dir: string, gatewayUserData: string) {
    const host = join(dir, 'host');
    rmSync(host, { recursive: true, force: true });
    for (const sub of ['opt/app/bin', 'home', 'bin']) spawnSync('mkdir', ['-p', join(host, sub)]);
    const move = (text: string) => text.replaceAll('/opt/sirocco/', `${host}/opt/`).replaceAll('/var/lib/sirocco/', `${host}/home/`);
    for (const [from, to] of [
      ['/opt/sirocco/gateway-env.sh', 'opt/gateway-env.sh'],
      ['/opt/sirocco/start-gateway.sh', 'opt/start-gateway.sh'],
      ['/opt/sirocco/sirocco', 'opt/sirocco'],
      ['/opt/sirocco/database-secret-watch.sh', 'opt/database-secret-watch.sh'],
    ] as const) {
      writeFileSync(join(host, to), move(written(gatewayUserData, from)), { mode: 0o755 });
    }
    writeFileSync(join(host, 'opt', 'rds-ca.pem'), '-----BEGIN CERTIFICATE-----\nstub\n-----END CERTIFICATE-----\n');
    // The app: prints its arguments and the environment the gateway would read.
    writeFileSync(
      join(host, 'opt', 'app', 'bin', 'sirocco.js'),
      `const e = process.env;\nconsole.log(JSON.stringify({ args: process.argv.slice(2), url: e.SIROCCO_DATABASE_URL, keySecret: e.SIROCCO_KEY_SECRET, region: e.AWS_REGION }));\n`,
    );
    // aws: Parameter Store answers value-of-NAME; Secrets Manager answers FAKE_SECRET (a file) or fails.
    writeFileSync(
      join(host, 'bin', 'aws'),
      `#!/bin/bash
printf '%s\\n' "$*" >> "${host}/aws.log"
case "$1" in
  ssm) while [ $# -gt 0 ]; do [ "$1" = --name ] && { printf 'value-of-%s\\n' "$2"; exit 0; }; shift; done; exit 1 ;;
  secretsmanager)
    [ -n "\${FAKE_AWS_FAIL:-}" ] && { echo 'An error occurred (AccessDeniedException) when calling the GetSecretValue operation' >&2; exit 254; }
    if [[ " $* " == *" --query VersionId "* ]]; then node -e 'console.log(JSON.parse(require("fs").readFileSync(process.argv[1], "utf8")).VersionId)' "$FAKE_SECRET"; else cat "$FAKE_SECRET"; fi ;;
  *) exit 1 ;;
esac
`,
      { mode: 0o755 },
    );
    writeFileSync(join(host, 'bin', 'systemctl'), `#!/bin/bash\nprintf '%s\\n' "$*" >> "${host}/systemctl.log"\n`, { mode: 0o755 });
    writeFileSync(join(host, 'bin', 'sleep'), '#!/bin/bash\nexit 0\n', { mode: 0o755 });
    return host;
  }

  function secretFile(host: string, name: string, versionId: string, secretString: string): string {
    const path = join(host, `${name}.json`);
    writeFileSync(path, JSON.stringify({ ARN: SECRET_ARN, Name: 'rds!db-00000000', VersionId: versionId, SecretString: secretString, VersionStages: ['AWSCURRENT'] }));
    return path;
  }

  function run(host: string, script: string, args: string[], env: Record<string, string>) {
    const r = spawnSync('bash', [join(host, 'opt', script), ...args], {
      encoding: 'utf8',
      env: { PATH: `${join(host, 'bin')}:${dirname(process.execPath)}:/usr/bin:/bin`, HOME: join(host, 'home'), ...env },
    });
    return { code: r.status, stdout: r.stdout, stderr: r.stderr };
  }

  it('exports SIROCCO_DATABASE_URL built from the secret at start, for the gateway and the operators\' CLI', async (ctx) => {
    const { dir, gateway } = await render(ctx);
    const host = install(dir, gateway);
    const secret = secretFile(host, 'v1', 'version-1', JSON.stringify({ username: 'sirocco', password: PASSWORD }));

    const started = run(host, 'start-gateway.sh', [], { FAKE_SECRET: secret });
    expect(started.code, started.stderr).toBe(0);
    const seen = JSON.parse(started.stdout);
    expect(seen.args.slice(0, 1)).toEqual(['gateway']);
    expect(seen.keySecret).toBe('value-of-/sirocco/key-secret');
    expect(seen.region).toBe('xx-test-1');
    expect(readFileSync(join(host, 'home', 'database-secret-version'), 'utf8')).toBe('version-1\n');

    // node-postgres, as the gateway's pool uses it, reads back exactly the secret's credentials,
    // with TLS verified against the RDS bundle the URL names.
    const { default: pg } = await import('pg');
    const client = new pg.Client({ connectionString: seen.url });
    expect([client.user, client.password, client.host, client.port, client.database]).toEqual(['sirocco', PASSWORD, DB_HOST, 5432, 'sirocco']);
    expect(new URL(seen.url).searchParams.get('sslmode')).toBe('verify-full');
    expect(client.ssl).toMatchObject({ ca: expect.stringContaining('BEGIN CERTIFICATE') });
    expect(client.ssl).not.toHaveProperty('rejectUnauthorized', false);

    // The secret was asked for by ARN, and went through a pipe: it is in no command line.
    const calls = readFileSync(join(host, 'aws.log'), 'utf8');
    expect(calls).toContain(`secretsmanager get-secret-value --secret-id ${SECRET_ARN} --output json`);
    expect(calls).not.toContain('p@ss');

    // `sudo -u sirocco /opt/sirocco/sirocco keys create …` gets the same store and secrets, and
    // does not move the version the rotation watch compares with.
    const secret2 = secretFile(host, 'v2', 'version-2', JSON.stringify({ username: 'sirocco', password: 'rotated' }));
    const cli = run(host, 'sirocco', ['keys', 'create', '--name', 'alice'], { FAKE_SECRET: secret2 });
    expect(cli.code, cli.stderr).toBe(0);
    const cliSeen = JSON.parse(cli.stdout);
    expect(cliSeen.args).toEqual(['keys', 'create', '--name', 'alice']);
    expect(new pg.Client({ connectionString: cliSeen.url }).password).toBe('rotated');
    expect(cliSeen.keySecret).toBe('value-of-/sirocco/key-secret');
    expect(readFileSync(join(host, 'home', 'database-secret-version'), 'utf8')).toBe('version-1\n');
  });

  it('does not start the gateway without the secret, and never prints a malformed secret', async (ctx) => {
    const { dir, gateway } = await render(ctx);
    const host = install(dir, gateway);
    const secret = secretFile(host, 'v1', 'version-1', JSON.stringify({ username: 'sirocco', password: PASSWORD }));
    const denied = run(host, 'start-gateway.sh', [], { FAKE_SECRET: secret, FAKE_AWS_FAIL: '1' });
    expect(denied.code).not.toBe(0);
    expect(denied.stdout).toBe(''); // the app never ran

    const malformed = secretFile(host, 'bad', 'version-1', `not json ${PASSWORD}`);
    const bad = run(host, 'start-gateway.sh', [], { FAKE_SECRET: malformed });
    expect(bad.code).not.toBe(0);
    expect(bad.stdout).toBe('');
    expect(bad.stderr).toContain('the database secret must be JSON with a username and a password');
    expect(bad.stderr).not.toContain('p@ss');
  });

  it('restarts the gateway when RDS rotates the password, and only then', async (ctx) => {
    const { dir, gateway } = await render(ctx);
    const host = install(dir, gateway);
    const v1 = secretFile(host, 'v1', 'version-1', JSON.stringify({ username: 'sirocco', password: PASSWORD }));
    const v2 = secretFile(host, 'v2', 'version-2', JSON.stringify({ username: 'sirocco', password: 'rotated' }));
    const restarts = () => (existsSync(join(host, 'systemctl.log')) ? readFileSync(join(host, 'systemctl.log'), 'utf8') : '');

    expect(run(host, 'database-secret-watch.sh', [], { FAKE_SECRET: v1 }).code).toBe(0); // gateway not started yet
    expect(restarts()).toBe('');
    expect(run(host, 'start-gateway.sh', [], { FAKE_SECRET: v1 }).code).toBe(0);
    expect(run(host, 'database-secret-watch.sh', [], { FAKE_SECRET: v1 }).code).toBe(0); // same version
    expect(restarts()).toBe('');
    const rotated = run(host, 'database-secret-watch.sh', [], { FAKE_SECRET: v2 });
    expect(rotated.code, rotated.stderr).toBe(0);
    expect(restarts()).toBe('restart sirocco-gateway.service\n');
  });

  it('puts no database URL, password or secret watch on the nodes', async (ctx) => {
    const { node, gateway } = await render(ctx);
    for (const text of [node, gateway]) expect(text).not.toMatch(/postgres(?:ql)?:\/\/[^\s"'/@:]+:[^\s"'/@]+@|PGPASSWORD|password=/i);
    expect(node).not.toMatch(/SIROCCO_DATABASE_URL|secretsmanager|rds-ca\.pem|database-secret-watch/);
    expect(gateway).toContain('systemctl enable --now sirocco-database-secret-watch.timer');
  });
});

// ── Structural rules on the HCL ──────────────────────────────────────────────────────────

type Doc = Record<string, any>; // hcl2json output: { variable: { name: [ {…} ] }, output: …, locals: [ {…} ] }

// One module's files merged: block names are unique across a module's files.
function mergeDocs(docs: Doc[]): Doc {
  const merged: Doc = {};
  for (const doc of docs) {
    for (const [kind, blocks] of Object.entries(doc)) {
      merged[kind] = Array.isArray(blocks) ? [...(merged[kind] ?? []), ...blocks] : { ...merged[kind], ...blocks };
    }
  }
  return merged;
}

const blocks = (doc: Doc, kind: string): [string, Doc][] => Object.entries(doc[kind] ?? {}).map(([name, list]) => [name, (list as Doc[])[0]!]);
const isLiteral = (v: unknown) => typeof v === 'string' && !v.includes('${');

function variableProblems(where: string, doc: Doc): string[] {
  return blocks(doc, 'variable').flatMap(([name, v]) => [
    ...(v.type === undefined ? [`${where}: variable "${name}" has no type`] : []),
    ...(typeof v.description !== 'string' || v.description.trim() === '' ? [`${where}: variable "${name}" has no description`] : []),
  ]);
}

const REGION = /\b(?:us|eu|ap|sa|ca|me|af|il|mx|cn)(?:-gov|-iso[a-z]?)?-(?:north|south|east|west|central)(?:east|west)?-\d\b/;
const ACCESS_KEY_ID = /\b(?:AKIA|ASIA)[0-9A-Z]{16}\b/;

// `region = "…"` literals in providers, resources and data sources; credentials anywhere.
function regionAndCredentialProblems(where: string, text: string, doc: Doc): string[] {
  const problems: string[] = [];
  const visit = (node: unknown, path: string) => {
    if (Array.isArray(node)) return node.forEach((n, i) => visit(n, `${path}[${i}]`));
    if (node === null || typeof node !== 'object') return;
    for (const [key, value] of Object.entries(node)) {
      if (key === 'region' && isLiteral(value)) problems.push(`${where}: ${path}.region is hard-coded ("${value}")`);
      if (['access_key', 'secret_key', 'token'].includes(key) && path.startsWith('provider')) problems.push(`${where}: ${path} sets ${key}`);
      visit(value, `${path}.${key}`);
    }
  };
  for (const kind of ['provider', 'resource', 'data']) visit(doc[kind] ?? {}, kind);
  if (REGION.test(text)) problems.push(`${where}: names a region (${REGION.exec(text)![0]})`);
  if (ACCESS_KEY_ID.test(text)) problems.push(`${where}: holds an AWS access key id`);
  if (/aws_secret_access_key|secret_access_key\s*=/i.test(text)) problems.push(`${where}: holds a secret access key`);
  return problems;
}

// Values that are secrets: attributes of secret stores, ephemeral resources, generated
// randomness — and, transitively, locals and module outputs built from them.
const SECRET_SOURCE =
  /\b(?:data\.)?(?:aws_ssm_parameter|aws_secretsmanager_secret_version)\.[\w-]+(?:\[[^\]]*\])?\.(?:value|insecure_value|secret_string|secret_binary)\b|\bephemeral\.|\brandom_password\b|\buuid\(\)/;

// modules: directory → merged doc. Returns outputs that carry a secret without sensitive = true.
function secretLeaks(modules: Map<string, Doc>): string[] {
  const secretOutputs = new Map<string, Set<string>>(); // module dir → outputs carrying a secret
  const leaks: string[] = [];
  const visit = (dir: string): Set<string> => {
    if (secretOutputs.has(dir)) return secretOutputs.get(dir)!;
    const doc = modules.get(dir) ?? {};
    const patterns = [SECRET_SOURCE];
    for (const [call, m] of blocks(doc, 'module')) {
      for (const out of visit(resolve(dir, m.source))) patterns.push(new RegExp(`\\bmodule\\.${call}(?:\\[[^\\]]*\\])?\\.${out}\\b`));
    }
    const carries = (expr: unknown) => patterns.some((p) => p.test(JSON.stringify(expr)));
    const locals: Doc = Object.assign({}, ...(doc.locals ?? []));
    for (let changed = true; changed; ) {
      changed = false;
      for (const [name, expr] of Object.entries(locals)) {
        const p = new RegExp(`\\blocal\\.${name}\\b`);
        if (!patterns.some((q) => q.source === p.source) && carries(expr)) (patterns.push(p), (changed = true));
      }
    }
    const outs = new Set<string>();
    for (const [name, o] of blocks(doc, 'output')) {
      if (!carries(o.value)) continue;
      outs.add(name);
      if (o.sensitive !== true) leaks.push(`${relative(INFRA, dir) || '.'}: output "${name}" exposes a secret value without sensitive = true`);
    }
    secretOutputs.set(dir, outs);
    return outs;
  };
  for (const dir of modules.keys()) visit(dir);
  return leaks;
}

describe('infra HCL (through @cdktf/hcl2json)', () => {
  const tfFiles = files(INFRA, (n) => n.endsWith('.tf'));
  const parsed = new Map<string, { text: string; doc: Doc }>();
  const modules = new Map<string, Doc>();

  beforeAll(async () => {
    for (const path of tfFiles) {
      const text = readFileSync(path, 'utf8');
      parsed.set(path, { text, doc: await parse(path, text) });
    }
    for (const dir of new Set(tfFiles.map(dirname))) {
      modules.set(dir, mergeDocs(tfFiles.filter((f) => dirname(f) === dir).map((f) => parsed.get(f)!.doc)));
    }
  });

  it('has a root module and the weights_bucket, nodes, gateway, secrets and database modules', () => {
    const dirs = [...modules.keys()].map((d) => relative(INFRA, d));
    expect(dirs).toEqual(expect.arrayContaining(['', 'modules/weights_bucket', 'modules/nodes', 'modules/gateway', 'modules/secrets', 'modules/database']));
  });

  it('gives every variable of every module a type and a description', () => {
    const problems = [...modules].flatMap(([dir, doc]) => variableProblems(relative(INFRA, dir) || '.', doc));
    expect(problems).toEqual([]);
    expect([...modules.values()].flatMap((d) => blocks(d, 'variable')).length).toBeGreaterThan(50);
  });

  it('writes no region and no credentials into the configuration', () => {
    const tfvars = files(join(INFRA, 'examples'), (n) => n.endsWith('.tfvars'));
    const problems = [
      ...[...parsed].flatMap(([path, { text, doc }]) => regionAndCredentialProblems(relative(INFRA, path), text, doc)),
      ...tfvars.flatMap((path) => regionAndCredentialProblems(relative(INFRA, path), readFileSync(path, 'utf8'), {})),
    ];
    expect(problems).toEqual([]);
  });

  it('exposes no secret value in an output unless the output is sensitive', () => {
    expect(secretLeaks(modules)).toEqual([]);
  });

  it('lets only a security group reach the nodes, and gives no launch template a public address', () => {
    const nodes = modules.get(join(INFRA, 'modules', 'nodes'))!;
    const ingress = Object.values((nodes.resource.aws_vpc_security_group_ingress_rule ?? {}) as Doc).flat() as Doc[];
    expect(ingress.length).toBeGreaterThan(0);
    for (const rule of ingress) {
      expect(rule.referenced_security_group_id).toBeDefined();
      expect(rule.cidr_ipv4 ?? rule.cidr_ipv6 ?? rule.prefix_list_id).toBeUndefined();
    }
    expect(Object.keys(nodes.resource)).not.toContain('aws_security_group_rule');
    const templates = [...modules.values()].flatMap((doc) => Object.values((doc.resource?.aws_launch_template ?? {}) as Doc).flat()) as Doc[];
    expect(templates.length).toBe(2);
    for (const t of templates) expect(t.network_interfaces?.[0]?.associate_public_ip_address).toBe(false);
  });

  it('keeps the database private and encrypted, reachable from the gateways only, its password with RDS', () => {
    const db = modules.get(join(INFRA, 'modules', 'database'))!;
    const instances = Object.values((db.resource.aws_db_instance ?? {}) as Doc).flat() as Doc[];
    expect(instances.length).toBe(1);
    const rds = instances[0]!;
    expect(rds.engine).toBe('postgres');
    expect(rds.storage_encrypted).toBe(true);
    expect(rds.publicly_accessible).toBe(false);
    expect(rds.db_subnet_group_name).toBe('${aws_db_subnet_group.this.name}');
    expect(rds.vpc_security_group_ids).toEqual(['${aws_security_group.database.id}']);
    // RDS generates the password and keeps it in Secrets Manager: Terraform never holds one.
    expect(rds.manage_master_user_password).toBe(true);
    for (const key of ['password', 'password_wo', 'password_wo_version']) expect(rds, key).not.toHaveProperty(key);
    expect(rds.skip_final_snapshot).toBe(false);
    // Deletion protection and backups: variables, on by default, backups never 0.
    const variable = (name: string) => Object.fromEntries(blocks(db, 'variable'))[name]!;
    expect(rds.deletion_protection).toBe('${var.deletion_protection}');
    expect(variable('deletion_protection').default).toBe(true);
    expect(rds.backup_retention_period).toBe('${var.backup_retention_days}');
    expect(variable('backup_retention_days').default).toBeGreaterThanOrEqual(1);
    expect(variable('backup_retention_days').validation?.[0]?.condition).toContain('var.backup_retention_days >= 1');
    expect(rds.instance_class).toBe('${var.instance_class}');
    expect(variable('instance_class').default).toMatch(/^db\.t4g\./);
    expect([...parsed].find(([p]) => p === join(INFRA, 'variables.tf'))![1].doc.variable.database_deletion_protection[0].default).toBe(true);
    // TLS enforced by the server too.
    const params = (Object.values(db.resource.aws_db_parameter_group) as Doc[][]).flat().flatMap((g) => g.parameter as Doc[]);
    expect(params).toContainEqual({ name: 'rds.force_ssl', value: '1' });
    // Network: one ingress rule, from a security group, on the database port; no egress, no inline rules.
    const ingress = Object.values((db.resource.aws_vpc_security_group_ingress_rule ?? {}) as Doc).flat() as Doc[];
    expect(ingress.length).toBe(1);
    for (const rule of ingress) {
      expect(rule.referenced_security_group_id).toBe('${var.client_security_group_id}');
      expect(rule.cidr_ipv4 ?? rule.cidr_ipv6 ?? rule.prefix_list_id).toBeUndefined();
      expect([rule.ip_protocol, rule.from_port, rule.to_port]).toEqual(['tcp', '${var.port}', '${var.port}']);
    }
    expect(Object.keys(db.resource)).not.toContain('aws_security_group_rule');
    expect(Object.keys(db.resource)).not.toContain('aws_vpc_security_group_egress_rule');
    for (const sg of Object.values(db.resource.aws_security_group as Doc).flat() as Doc[]) expect(sg.ingress ?? sg.egress).toBeUndefined();
    // Wiring: private subnets, the gateways' security group, and the gateways get the secret's ARN.
    const root = modules.get(INFRA)!;
    const dbCall = Object.fromEntries(blocks(root, 'module')).database!;
    expect(dbCall.subnet_ids).toBe('${local.private_subnet_ids}');
    expect(dbCall.client_security_group_id).toBe('${module.gateway.security_group_id}');
    expect(Object.fromEntries(blocks(root, 'module')).gateway!.database.secret_arn).toBe('${module.database.credentials_secret_arn}');
  });

  it('lets the gateway role alone read the database secret, and only that secret', () => {
    // Every file with an IAM action of Secrets Manager (an action starts with a capital or *).
    const action = /secretsmanager:[A-Z*][\w*]*/g;
    const grants = [...parsed].filter(([, { text }]) => action.test(text)).map(([path]) => relative(INFRA, path));
    expect(grants).toEqual(['modules/gateway/iam.tf']);
    const iam = parsed.get(join(INFRA, 'modules', 'gateway', 'iam.tf'))!;
    expect(iam.text.match(action)).toEqual(['secretsmanager:GetSecretValue']);
    expect(JSON.stringify(iam.doc.locals)).toMatch(/Action\s*=\s*\[\\"secretsmanager:GetSecretValue\\"\]\\n\s*Resource\s*=\s*\[var\.database\.secret_arn\]/);
    // No resource policy on a secret that could let anyone else in.
    for (const doc of modules.values()) expect(Object.keys(doc.resource ?? {})).not.toContain('aws_secretsmanager_secret_policy');
  });

  it('catches what the rules are meant to catch (on deliberately bad HCL)', async () => {
    const doc = (text: string) => parse('bad.tf', text);
    expect(variableProblems('bad', await doc('variable "x" {\n  type = string\n}\nvariable "y" {\n  description = "y"\n}\n'))).toEqual([
      'bad: variable "x" has no description',
      'bad: variable "y" has no type',
    ]);
    const provider = 'provider "aws" {\n  region     = "eu-west-3"\n  access_key = "AKIAABCDEFGHIJKLMNOP"\n}\n';
    expect(regionAndCredentialProblems('bad', provider, await doc(provider))).toEqual([
      'bad: provider.aws[0] sets access_key',
      'bad: provider.aws[0].region is hard-coded ("eu-west-3")',
      'bad: names a region (eu-west-3)',
      'bad: holds an AWS access key id',
    ]);
    const child = await doc('locals {\n  s = uuid()\n}\noutput "v" {\n  value     = local.s\n  sensitive = true\n}\n');
    const parent = await doc(
      'resource "aws_ssm_parameter" "p" {\n  name = "p"\n}\nmodule "c" {\n  source = "./c"\n}\noutput "direct" {\n  value = aws_ssm_parameter.p.value\n}\noutput "via_module" {\n  value = module.c.v\n}\noutput "name_only" {\n  value = aws_ssm_parameter.p.name\n}\n',
    );
    expect(secretLeaks(new Map([[join(INFRA, 'x'), parent], [join(INFRA, 'x', 'c'), child]]))).toEqual([
      'x: output "direct" exposes a secret value without sensitive = true',
      'x: output "via_module" exposes a secret value without sensitive = true',
    ]);
  });
});
