// The gateway's tables in PostgreSQL, created by numbered migrations at start. Every replica
// runs ensureSchema(); an advisory lock makes the first one apply what is missing while the
// others wait, and each migration runs in the transaction that records it.
import type pg from 'pg';

// pg_advisory_xact_lock key: "sirocco" in ASCII, so other applications' locks do not collide.
const MIGRATION_LOCK = 0x7369726f63636f;

const MIGRATIONS: string[] = [
  // 1: keys, the server secret's check, the usage ledger, rate-limit buckets.
  `CREATE TABLE sirocco_settings (name text PRIMARY KEY, value text NOT NULL);
   CREATE TABLE sirocco_api_keys (
     id text PRIMARY KEY,
     name text NOT NULL,
     hmac text NOT NULL UNIQUE,
     created_at timestamptz NOT NULL,
     revoked_at timestamptz,
     requests_per_minute integer,
     tokens_per_minute integer
   );
   CREATE TABLE sirocco_usage (
     seq bigserial NOT NULL,
     request_id text PRIMARY KEY,
     key_id text NOT NULL,
     model text NOT NULL,
     endpoint text NOT NULL,
     status text NOT NULL,
     prompt_tokens integer NOT NULL,
     cached_tokens integer NOT NULL,
     completion_tokens integer NOT NULL,
     n integer NOT NULL,
     node text,
     started_at timestamptz NOT NULL,
     finished_at timestamptz NOT NULL,
     error text
   );
   CREATE INDEX sirocco_usage_by_seq ON sirocco_usage (seq);
   CREATE INDEX sirocco_usage_by_key ON sirocco_usage (key_id, started_at);
   CREATE TABLE sirocco_rate_buckets (
     key_id text NOT NULL,
     kind text NOT NULL,
     level double precision NOT NULL,
     at_ms bigint NOT NULL,
     PRIMARY KEY (key_id, kind)
   );
   -- One round trip per admission: refill the key's buckets to now, take the amounts if every
   -- bucket holds them (or always, when forced), return the levels. Rows are locked, so
   -- replicas admitting the same key at once see each other's takes.
   CREATE FUNCTION sirocco_take(p_key text, p_now bigint, p_caps double precision[], p_amounts double precision[], p_force boolean)
   RETURNS TABLE (taken boolean, levels double precision[]) LANGUAGE plpgsql AS $$
   DECLARE
     kinds text[] := ARRAY['requests', 'tokens'];
     lv double precision[] := ARRAY[NULL, NULL]::double precision[];
     row_level double precision;
     row_at bigint;
     ok boolean := true;
   BEGIN
     FOR i IN 1..2 LOOP
       CONTINUE WHEN p_caps[i] IS NULL;
       INSERT INTO sirocco_rate_buckets VALUES (p_key, kinds[i], p_caps[i], p_now) ON CONFLICT DO NOTHING;
       SELECT level, at_ms INTO row_level, row_at FROM sirocco_rate_buckets WHERE key_id = p_key AND kind = kinds[i] FOR UPDATE;
       lv[i] := LEAST(p_caps[i], row_level + GREATEST(0, p_now - row_at) * p_caps[i] / 60000.0);
       ok := ok AND lv[i] >= p_amounts[i];
     END LOOP;
     ok := ok OR p_force;
     IF ok THEN
       FOR i IN 1..2 LOOP
         CONTINUE WHEN p_caps[i] IS NULL;
         lv[i] := LEAST(p_caps[i], lv[i] - p_amounts[i]);
         UPDATE sirocco_rate_buckets SET level = lv[i], at_ms = GREATEST(at_ms, p_now) WHERE key_id = p_key AND kind = kinds[i];
       END LOOP;
     END IF;
     RETURN QUERY SELECT ok, lv;
   END $$;`,
  // 2: admin keys (/metrics, everyone's usage, key management over HTTP).
  `ALTER TABLE sirocco_api_keys ADD COLUMN admin boolean NOT NULL DEFAULT false;`,
  // 3: each record's cost in US dollars (null: no price for its model).
  `ALTER TABLE sirocco_usage ADD COLUMN cost double precision;`,
  // 4: the admission journal (ledger/admission_journal.ts): one row per request in flight,
  // owned by a gateway replica that heartbeats in sirocco_gateways while it lives.
  `CREATE TABLE sirocco_admissions (
     request_id text PRIMARY KEY,
     owner text NOT NULL,
     record jsonb NOT NULL,
     opened_at timestamptz NOT NULL DEFAULT now()
   );
   CREATE INDEX sirocco_admissions_by_opened ON sirocco_admissions (opened_at);
   CREATE TABLE sirocco_gateways (id text PRIMARY KEY, seen_at timestamptz NOT NULL);`,
  // 5: the Batch API job of a record (null: not a batch line).
  `ALTER TABLE sirocco_usage ADD COLUMN batch_id text;`,
  // 6: the Batch API's files (metadata: the bytes are in S3 or a folder) and jobs, the output
  // lines of running jobs, and which replica runs which job.
  `CREATE TABLE sirocco_files (
     id text PRIMARY KEY,
     owner text NOT NULL,
     created_at bigint NOT NULL,
     record jsonb NOT NULL
   );
   CREATE INDEX sirocco_files_by_owner ON sirocco_files (owner, created_at);
   CREATE TABLE sirocco_batches (
     id text PRIMARY KEY,
     owner text NOT NULL,
     created_at bigint NOT NULL,
     record jsonb NOT NULL,
     claimed_by text
   );
   CREATE INDEX sirocco_batches_by_owner ON sirocco_batches (owner, created_at);
   CREATE TABLE sirocco_batch_lines (
     batch_id text NOT NULL,
     output_id text NOT NULL,
     seq bigserial NOT NULL,
     line jsonb NOT NULL,
     PRIMARY KEY (batch_id, output_id)
   );`,
];

export async function ensureSchema(pool: pg.Pool): Promise<void> {
  const client = await pool.connect();
  try {
    await client.query('BEGIN');
    await client.query('SELECT pg_advisory_xact_lock($1)', [MIGRATION_LOCK]);
    await client.query('CREATE TABLE IF NOT EXISTS sirocco_migrations (version integer PRIMARY KEY, applied_at timestamptz NOT NULL DEFAULT now())');
    const { rows } = await client.query<{ version: number }>('SELECT COALESCE(MAX(version), 0) AS version FROM sirocco_migrations');
    const applied = rows[0]!.version;
    if (applied > MIGRATIONS.length)
      throw new Error(`the database's Sirocco schema is version ${applied}, newer than this gateway knows (${MIGRATIONS.length}): upgrade the gateway`);
    for (let v = applied + 1; v <= MIGRATIONS.length; v++) {
      await client.query(MIGRATIONS[v - 1]!);
      await client.query('INSERT INTO sirocco_migrations (version) VALUES ($1)', [v]);
    }
    await client.query('COMMIT');
  } catch (err) {
    await client.query('ROLLBACK').catch(() => undefined);
    throw err;
  } finally {
    client.release();
  }
}
