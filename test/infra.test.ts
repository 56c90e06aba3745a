// Checks of infra/ (Terraform for AWS): formatting; `terraform init` from the offline provider
// mirror, `validate` and `terraform test` against a mocked AWS provider; and structural rules
// on the HCL itself, read through @cdktf/hcl2json. Without Terraform or the mirror the
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

  it('has a root module and the weights_bucket, nodes, gateway and secrets modules', () => {
    const dirs = [...modules.keys()].map((d) => relative(INFRA, d));
    expect(dirs).toEqual(expect.arrayContaining(['', 'modules/weights_bucket', 'modules/nodes', 'modules/gateway', 'modules/secrets']));
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
