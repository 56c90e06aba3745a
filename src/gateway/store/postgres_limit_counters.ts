// Rate-limit buckets shared by every gateway replica: one call of sirocco_take (a plpgsql
// function, postgres_schema.ts) per admission or charge, atomic under row locks.
import type pg from 'pg';
import type { Amounts, Capacities, LimitCounters, Levels } from './limit_counters.ts';

export class PostgresLimitCounters implements LimitCounters {
  constructor(private readonly pool: pg.Pool) {}

  async take(keyId: string, caps: Capacities, amounts: Amounts, force: boolean, now: number): Promise<{ taken: boolean; levels: Levels }> {
    const { rows } = await this.pool.query<{ taken: boolean; levels: (number | null)[] }>('SELECT taken, levels FROM sirocco_take($1, $2, $3, $4, $5)', [
      keyId,
      Math.round(now),
      [caps.requests, caps.tokens],
      [amounts.requests, amounts.tokens],
      force,
    ]);
    const row = rows[0]!;
    return { taken: row.taken, levels: { requests: row.levels[0] ?? null, tokens: row.levels[1] ?? null } };
  }
}
