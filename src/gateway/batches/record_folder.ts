// What /v1/files and /v1/batches keep in the data directory: one JSON record a file
// (<id>.json, replaced atomically), owned by a key, listed newest first.
import { mkdir, readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { z } from 'zod';
import { writeFileAtomic } from '../keys/atomic_write.ts';

type Owned = { id: string; created_at: number; owner: string };

export class RecordFolder<T extends Owned> {
  private constructor(
    readonly dir: string,
    private readonly idPattern: RegExp,
    private readonly schema: z.ZodType<T>,
  ) {}

  static async open<T extends Owned>(dir: string, idPattern: RegExp, schema: z.ZodType<T>): Promise<RecordFolder<T>> {
    await mkdir(dir, { recursive: true, mode: 0o700 });
    return new RecordFolder(dir, idPattern, schema);
  }

  save(record: T): Promise<void> {
    return writeFileAtomic(join(this.dir, `${record.id}.json`), JSON.stringify(record));
  }

  // Any key's record, or null (an id of the wrong form is never a path).
  async read(id: string): Promise<T | null> {
    if (!this.idPattern.test(id)) return null;
    const text = await readFile(join(this.dir, `${id}.json`), 'utf8').catch(() => null);
    return text === null ? null : this.schema.parse(JSON.parse(text));
  }

  // The key's record, or null: another key's is as absent as a missing one.
  async get(owner: string, id: string): Promise<T | null> {
    const r = await this.read(id);
    return r?.owner === owner ? r : null;
  }

  // Newest first; owner null: every key's.
  async list(owner: string | null): Promise<T[]> {
    const names = (await readdir(this.dir)).filter((n) => n.endsWith('.json') && this.idPattern.test(n.slice(0, -5)));
    const records = await Promise.all(names.map(async (n) => this.schema.parse(JSON.parse(await readFile(join(this.dir, n), 'utf8')))));
    return records.filter((r) => owner === null || r.owner === owner).sort((a, b) => b.created_at - a.created_at || (a.id < b.id ? 1 : -1));
  }
}
