// Where /v1/files and /v1/batches keep their records (file metadata, jobs): a folder of JSON
// files for the embedded store (record_folder.ts), a table for PostgreSQL
// (store/postgres_record_table.ts). Records are owned by a key and listed newest first.
export type Owned = { id: string; created_at: number; owner: string };

export interface RecordTable<T extends Owned> {
  save(record: T): Promise<void>;
  /** Any key's record, or null. */
  read(id: string): Promise<T | null>;
  /** Newest first; owner null: every key's. */
  list(owner: string | null): Promise<T[]>;
  /**
   * Applies `change` to the stored record and saves it, atomically: changes to one record, from
   * any process of the store, never interleave. Throws if there is no such record.
   */
  update(id: string, change: (record: T) => void): Promise<T>;
  /** Deletes the record; false: there was none. */
  remove(id: string): Promise<boolean>;
}

/** The key's record, or null: another key's is as absent as a missing one. */
export async function ownedBy<T extends Owned>(table: RecordTable<T>, owner: string, id: string): Promise<T | null> {
  const r = await table.read(id);
  return r?.owner === owner ? r : null;
}
