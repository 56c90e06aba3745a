// The PostgreSQL test harness (test/helpers/postgres.ts) starts a real server: SQL round trips
// work, freshDatabase gives a database whose tables the first cannot see, and stop() leaves
// nothing listening on the port.
import { connect } from 'node:net';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freshDatabase, startPostgres, type TestPostgres } from './helpers/postgres.ts';

let server: TestPostgres;
let pool: pg.Pool;

beforeAll(async () => {
  server = await startPostgres();
  pool = new pg.Pool({ connectionString: server.url });
});

afterAll(async () => {
  if (pool && !pool.ended) await pool.end();
  await server?.stop();
});

/** Resolves true when something accepts a TCP connection on 127.0.0.1:port. */
function accepts(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect(port, '127.0.0.1');
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}

describe('startPostgres', () => {
  it('is a real PostgreSQL server on 127.0.0.1 with the sirocco_test database', async () => {
    const url = new URL(server.url);
    expect(url.hostname).toBe('127.0.0.1');
    expect(url.pathname).toBe('/sirocco_test');
    const { rows } = await pool.query<{ version: string; db: string }>(
      'select version() as version, current_database() as db',
    );
    expect(rows[0].version).toContain('PostgreSQL');
    expect(rows[0].db).toBe('sirocco_test');
  });

  it('round-trips rows through a table', async () => {
    await pool.query('create table notes (id serial primary key, body text not null, at timestamptz default now())');
    await pool.query('insert into notes (body) values ($1), ($2)', ['héllo', 'wörld']);
    const { rows } = await pool.query<{ id: number; body: string; at: Date }>('select * from notes order by id');
    expect(rows.map((row) => [row.id, row.body])).toEqual([
      [1, 'héllo'],
      [2, 'wörld'],
    ]);
    expect(rows[0].at).toBeInstanceOf(Date);
  });

  it('freshDatabase gives an isolated database on the same server', async () => {
    const otherUrl = await freshDatabase(server.url, 'sirocco_other');
    expect(new URL(otherUrl).port).toBe(new URL(server.url).port);
    expect(new URL(otherUrl).pathname).toBe('/sirocco_other');
    const other = new pg.Client({ connectionString: otherUrl });
    await other.connect();
    try {
      expect((await other.query('select current_database() as db')).rows[0].db).toBe('sirocco_other');
      await expect(other.query('select * from notes')).rejects.toThrow(/relation "notes" does not exist/);
      await other.query('create table notes (body text)');
      expect((await other.query('select count(*)::int as n from notes')).rows[0].n).toBe(0);
    } finally {
      await other.end();
    }
    expect((await pool.query('select count(*)::int as n from notes')).rows[0].n).toBe(2);
  });

  it('stop() shuts the server down and frees the port', async () => {
    const port = Number(new URL(server.url).port);
    expect(await accepts(port)).toBe(true);
    await pool.end();
    await server.stop();
    expect(await accepts(port)).toBe(false);
    await server.stop(); // a second stop is harmless
  });
});
