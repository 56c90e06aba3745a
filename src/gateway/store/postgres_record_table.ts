// A RecordTable in PostgreSQL (sirocco_files, sirocco_batches): the record as jsonb, with its
// id, owner and creation time in columns to look it up and list it by. update() reads the row
// FOR UPDATE in a transaction, so changes from any replica never interleave.
import type pg from 'pg';
import type { z } from 'zod';
import type { Owned, RecordTable } from '../batches/record_table.ts';

export class PostgresRecordTable<T extends Owned> implements RecordTable<T> {
  constructor(
    private readonly pool: pg.Pool,
    private readonly table: 'sirocco_files' | 'sirocco_batches',
    private readonly schema: z.ZodType<T>,
  ) {}

  async save(r: T): Promise<void> {
    await this.pool.query(
      `INSERT INTO ${this.table} (id, owner, created_at, record) VALUES ($1, $2, $3, $4) ON CONFLICT (id) DO UPDATE SET record = EXCLUDED.record`,
      [r.id, r.owner, r.created_at, JSON.stringify(r)],
    );
  }

  async read(id: string): Promise<T | null> {
    const { rows } = await this.pool.query<{ record: unknown }>(`SELECT record FROM ${this.table} WHERE id = $1`, [id]);
    return rows[0] ? this.schema.parse(rows[0].record) : null;
  }

  async list(owner: string | null): Promise<T[]> {
    const { rows } = await this.pool.query<{ record: unknown }>(
      `SELECT record FROM ${this.table} WHERE $1::text IS NULL OR owner = $1 ORDER BY created_at DESC, id DESC`,
      [owner],
    );
    return rows.map((row) => this.schema.parse(row.record));
  }

  async update(id: string, change: (record: T) => void): Promise<T> {
    const client = await this.pool.connect();
    try {
      await client.query('BEGIN');
      const { rows } = await client.query<{ record: unknown }>(`SELECT record FROM ${this.table} WHERE id = $1 FOR UPDATE`, [id]);
      if (!rows[0]) throw new Error(`no record ${id}`);
      const r = this.schema.parse(rows[0].record);
      change(r);
      await client.query(`UPDATE ${this.table} SET record = $2 WHERE id = $1`, [id, JSON.stringify(r)]);
      await client.query('COMMIT');
      return r;
    } catch (err) {
      await client.query('ROLLBACK').catch(() => undefined);
      throw err;
    } finally {
      client.release();
    }
  }

  async remove(id: string): Promise<boolean> {
    return ((await this.pool.query(`DELETE FROM ${this.table} WHERE id = $1`, [id])).rowCount ?? 0) > 0;
  }
}
