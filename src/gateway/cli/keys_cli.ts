// `sirocco keys create|revoke|list`: manage the gateway's API keys in its store (the data dir,
// or PostgreSQL with --store / $SIROCCO_DATABASE_URL). Running gateways pick up changes without
// a restart. The key itself is shown once, at creation.
import { parseArgs } from 'node:util';
import { z } from 'zod';
import { KeyNameSchema, publicKeyView } from '../keys/key_store.ts';
import { databaseUrl, openKeyStore } from '../store/gateway_store.ts';
import { describeIssue, formatTable, positiveIntFlag } from './cli_support.ts';
import { resolveDataDir } from './data_dir.ts';

const USAGE = `usage: sirocco keys create --name NAME [--rpm N] [--tpm N] [--admin] [--data DIR | --store URL]
       sirocco keys revoke ID [--data DIR | --store URL]
       sirocco keys list [--json] [--data DIR | --store URL]

  create     mint a key; prints the key (once) on stdout, its id on stderr
  revoke     revoke the key with this id (takes effect in a running gateway within a second)
  list       every key: id, name, created, revoked, limits (never the key itself)

  --name NAME   a label for the key (who or what uses it)
  --rpm N       requests per minute allowed to this key (default: unlimited)
  --tpm N       tokens per minute, prompt + completion (default: unlimited)
  --admin       an admin key: may also read /metrics and everyone's usage, and manage keys
                over HTTP (/v1/admin/…); give it to operators, not to clients
  --json        list as JSON
  --data DIR    data directory (default: $SIROCCO_DATA_DIR, else ~/.sirocco)
  --store URL   postgres://… shared by every gateway replica (default: $SIROCCO_DATABASE_URL;
                when neither is set, the data directory)
  The server secret is $SIROCCO_KEY_SECRET if set, else DIR/secret (or the database's): use the gateway's.
`;

const where = { data: z.string().min(1, 'expects a directory').optional(), store: z.string().min(1, 'expects a postgres:// URL').optional() };
const CreateArgs = z.strictObject({
  name: z.string({ error: 'is required' }).pipe(KeyNameSchema),
  rpm: positiveIntFlag.optional(),
  tpm: positiveIntFlag.optional(),
  admin: z.boolean().optional(),
  ...where,
});
const RevokeArgs = z.strictObject(where);
const ListArgs = z.strictObject({ ...where, json: z.boolean().optional() });
const KeyIdArg = z.string().regex(/^key_[0-9A-Za-z]{6,64}$/, 'expected a key id such as key_0123456789ab');

function fail(message: string): number {
  process.stderr.write(`sirocco keys: ${message}\n\n${USAGE}`);
  return 1;
}

// Opens the store the flags name, runs `use`, closes it (a database pool would keep the process alive).
async function withStore<T>(flags: { data?: string; store?: string }, use: (store: Awaited<ReturnType<typeof openKeyStore>>) => Promise<T>): Promise<T> {
  const store = await openKeyStore({ dataDir: resolveDataDir(flags.data), databaseUrl: databaseUrl(flags.store) });
  try {
    return await use(store);
  } finally {
    await store.close();
  }
}


export async function runKeys(argv: string[]): Promise<number> {
  let parsed;
  try {
    parsed = parseArgs({
      args: argv,
      options: {
        name: { type: 'string' },
        rpm: { type: 'string' },
        tpm: { type: 'string' },
        data: { type: 'string' },
        store: { type: 'string' },
        json: { type: 'boolean' },
        admin: { type: 'boolean' },
        help: { type: 'boolean', short: 'h' },
      },
      allowPositionals: true,
      strict: true,
    });
  } catch (err) {
    return fail((err as Error).message);
  }
  const { help, ...flags } = parsed.values;
  const [command, ...rest] = parsed.positionals;
  if (help) {
    process.stdout.write(USAGE);
    return 0;
  }

  switch (command) {
    case 'create': {
      if (rest.length > 0) return fail(`'keys create' takes no positional arguments (got '${rest[0]}'); use --name`);
      const args = CreateArgs.safeParse(flags);
      if (!args.success) return fail(describeIssue(args.error, 'keys create'));
      const limits = { requests_per_minute: args.data.rpm ?? null, tokens_per_minute: args.data.tpm ?? null };
      return withStore(args.data, async (store) => {
        const { record, key } = await store.keys.create(args.data.name, limits, { admin: args.data.admin ?? false });
        process.stdout.write(`${key}\n`);
        process.stderr.write(`created ${record.admin ? 'admin key ' : ''}${record.id} ("${record.name}") in ${store.description}\nstore it now, it cannot be shown again\n`);
        return 0;
      });
    }
    case 'revoke': {
      if (rest.length !== 1) return fail(`'keys revoke' takes exactly one key id`);
      const id = KeyIdArg.safeParse(rest[0]);
      if (!id.success) return fail(`'${rest[0]}': ${id.error.issues[0]?.message ?? 'invalid key id'}`);
      const args = RevokeArgs.safeParse(flags);
      if (!args.success) return fail(describeIssue(args.error, 'keys revoke'));
      return withStore(args.data, async (store) => {
        if (!(await store.keys.revoke(id.data))) {
          process.stderr.write(`sirocco keys: no key with id ${id.data} in ${store.description}\n`);
          return 1;
        }
        process.stderr.write(`revoked ${id.data}\n`);
        return 0;
      });
    }
    case 'list': {
      if (rest.length > 0) return fail(`'keys list' takes no positional arguments (got '${rest[0]}')`);
      const args = ListArgs.safeParse(flags);
      if (!args.success) return fail(describeIssue(args.error, 'keys list'));
      const records = await withStore(args.data, (store) => store.keys.list());
      if (args.data.json) {
        process.stdout.write(JSON.stringify(records.map(publicKeyView), null, 2) + '\n');
        return 0;
      }
      const limit = (n: number | null) => (n === null ? '-' : String(n));
      const rows = records.map((r) => [
        r.id, r.name, r.created_at, r.revoked_at ?? '-', limit(r.limits.requests_per_minute), limit(r.limits.tokens_per_minute), r.admin ? 'yes' : '-',
      ]);
      process.stdout.write(formatTable(['ID', 'NAME', 'CREATED', 'REVOKED', 'RPM', 'TPM', 'ADMIN'], rows, new Set([4, 5])));
      return 0;
    }
    case undefined:
      return fail('missing command: create, revoke or list');
    default:
      return fail(`unknown command '${command}': expected create, revoke or list`);
  }
}
