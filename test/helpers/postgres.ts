// A real, throwaway PostgreSQL server for one test file: initdb into a fresh temp folder, start
// on a free port bound to 127.0.0.1 (Unix socket in the same folder), create `sirocco_test`, and
// on stop() kill it and delete the folder. Tests talk to a real server, not a mock, so SQL,
// types and locking behave as in production. PostgreSQL refuses to run as root: under root the
// commands run as the `postgres` user, which owns the temp folder. No PostgreSQL installed is an
// error, never a skip: install it (`apt-get install postgresql`) or run .ci/run, which does.
import { execFile } from 'node:child_process';
import { chownSync, existsSync, mkdtempSync, readdirSync, readFileSync, realpathSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { delimiter, dirname, join } from 'node:path';
import pg from 'pg';

export interface TestPostgres {
  /** postgres://postgres@127.0.0.1:PORT/sirocco_test */
  url: string;
  /** Stops the server at once (no checkpoint) and deletes its folder. Safe to call twice. */
  stop(): Promise<void>;
}

const PORT_ATTEMPTS = 5;
const LOG_TAIL_CHARS = 3000;

/** `durable`: keep fsync on (benchmarks of write cost); tests run without it. */
export async function startPostgres(options: { durable?: boolean } = {}): Promise<TestPostgres> {
  const binDir = findPostgresBinDir();
  const runAsPostgres = process.getuid?.() === 0;
  const root = mkdtempSync(join(tmpdir(), 'sirocco-pg-'));
  const dataDir = join(root, 'data');
  let stopped = false;
  const removeRoot = () => rmSync(root, { recursive: true, force: true });

  const pgCommand = (program: string, args: string[]) =>
    runCommand(join(binDir, program), args, { cwd: root, asPostgres: runAsPostgres });

  try {
    if (runAsPostgres) chownSync(root, ...(await postgresUserIds()));

    // --no-sync: a throwaway cluster need not survive a power cut.
    await pgCommand('initdb', ['-D', dataDir, '--auth=trust', '-U', 'postgres', '--no-sync', '-E', 'UTF8']);

    let port = 0;
    for (let attempt = 1; ; attempt++) {
      port = await freePort();
      const logFile = join(root, `server-${attempt}.log`);
      // fsync=off: test data is thrown away, and it makes commits much faster. pg_ctl passes
      // these options through /bin/sh, hence the quoted folder.
      const serverOptions = `-p ${port} -k ${shellQuote(root)} -c listen_addresses=127.0.0.1 -c fsync=${options.durable ? 'on' : 'off'}`;
      try {
        await pgCommand('pg_ctl', ['start', '-w', '-D', dataDir, '-l', logFile, '-o', serverOptions]);
        break;
      } catch (error) {
        // Another process took the port between freePort() and the server's bind: try another.
        if (attempt < PORT_ATTEMPTS && logTail(logFile).includes('Address already in use')) continue;
        throw new Error(`${(error as Error).message}\n--- server log ---\n${logTail(logFile)}`);
      }
    }

    const serverUrl = `postgres://postgres@127.0.0.1:${port}/postgres`;
    const url = await freshDatabase(serverUrl, 'sirocco_test');
    return {
      url,
      async stop() {
        if (stopped) return;
        stopped = true;
        try {
          await pgCommand('pg_ctl', ['stop', '-w', '-m', 'immediate', '-D', dataDir]);
        } finally {
          removeRoot();
        }
      },
    };
  } catch (error) {
    // A half-started server: stop it if it runs, then drop the folder.
    if (existsSync(join(dataDir, 'postmaster.pid'))) {
      await pgCommand('pg_ctl', ['stop', '-w', '-m', 'immediate', '-D', dataDir]).catch(() => {});
    }
    removeRoot();
    throw error;
  }
}

/** Creates database `name` on the server of `url` and returns the url that points at it. */
export async function freshDatabase(url: string, name: string): Promise<string> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    await client.query(`CREATE DATABASE ${pg.escapeIdentifier(name)}`);
  } finally {
    await client.end();
  }
  const databaseUrl = new URL(url);
  databaseUrl.pathname = `/${encodeURIComponent(name)}`;
  return databaseUrl.toString();
}

/** The folder with initdb and pg_ctl: PATH's pg_ctl (symlinks followed), else the newest Debian one. */
function findPostgresBinDir(): string {
  for (const dir of (process.env.PATH ?? '').split(delimiter)) {
    const pgCtl = join(dir, 'pg_ctl');
    if (dir && existsSync(pgCtl)) return dirname(realpathSync(pgCtl));
  }
  const debianRoot = '/usr/lib/postgresql';
  const versions = existsSync(debianRoot)
    ? readdirSync(debianRoot)
        .filter((version) => existsSync(join(debianRoot, version, 'bin', 'pg_ctl')))
        .sort((a, b) => Number.parseFloat(b) - Number.parseFloat(a))
    : [];
  if (versions.length === 0) {
    throw new Error(
      'PostgreSQL is not installed (no pg_ctl on PATH or in /usr/lib/postgresql/*/bin): ' +
        'run `apt-get install postgresql`, or run .ci/run, which installs it',
    );
  }
  return join(debianRoot, versions[0], 'bin');
}

async function postgresUserIds(): Promise<[uid: number, gid: number]> {
  try {
    const uid = await runCommand('id', ['-u', 'postgres'], {});
    const gid = await runCommand('id', ['-g', 'postgres'], {});
    return [Number(uid.trim()), Number(gid.trim())];
  } catch (error) {
    throw new Error(`running as root, PostgreSQL needs the \`postgres\` user, which was not found: ${(error as Error).message}`);
  }
}

/** Runs a program and resolves to its stdout; rejects with its stderr. As root: via `su postgres`. */
function runCommand(program: string, args: string[], options: { cwd?: string; asPostgres?: boolean }): Promise<string> {
  const [file, argv] = options.asPostgres
    ? ['su', ['postgres', '-s', '/bin/sh', '-c', [program, ...args].map(shellQuote).join(' ')]]
    : [program, args];
  const shown = [program, ...args].join(' ');
  return new Promise((resolve, reject) => {
    execFile(file, argv, { cwd: options.cwd }, (error, stdout, stderr) => {
      if (error) reject(new Error(`\`${shown}\` failed (${error.code ?? error.signal}):\n${stderr || stdout}`));
      else resolve(stdout);
    });
  });
}

function shellQuote(word: string): string {
  return `'${word.replaceAll("'", `'\\''`)}'`;
}

/** A port the OS just handed out; it may be taken again before the server binds it (then retry). */
function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}

function logTail(logFile: string): string {
  return existsSync(logFile) ? readFileSync(logFile, 'utf8').slice(-LOG_TAIL_CHARS) : '(no server log)';
}
