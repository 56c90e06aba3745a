// The embedded store's RecordTable: one JSON file a record (<id>.json, replaced atomically) in a
// folder of the data directory. One gateway uses a data directory at a time, so changes to a
// record are serialized in this process.
import { mkdir, readdir, readFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import type { z } from 'zod';
import { writeFileAtomic } from '../keys/atomic_write.ts';
import type { Owned, RecordTable } from './record_table.ts';

export class RecordFolder<T extends Owned> implements RecordTable<T> {
  private readonly updating = new Map<string, Promise<unknown>>(); // per record: one change at a time

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

  // (An id of the wrong form is never a path.)
  async read(id: string): Promise<T | null> {
    if (!this.idPattern.test(id)) return null;
    const text = await readFile(join(this.dir, `${id}.json`), 'utf8').catch(() => null);
    return text === null ? null : this.schema.parse(JSON.parse(text));
  }

  async list(owner: string | null): Promise<T[]> {
    const names = (await readdir(this.dir)).filter((n) => n.endsWith('.json') && this.idPattern.test(n.slice(0, -5)));
    const records = await Promise.all(names.map(async (n) => this.schema.parse(JSON.parse(await readFile(join(this.dir, n), 'utf8')))));
    return records.filter((r) => owner === null || r.owner === owner).sort((a, b) => b.created_at - a.created_at || (a.id < b.id ? 1 : -1));
  }

  update(id: string, change: (record: T) => void): Promise<T> {
    const run = async () => {
      const r = await this.read(id);
      if (!r) throw new Error(`no record ${id}`);
      change(r);
      await this.save(r);
      return r;
    };
    const next = (this.updating.get(id) ?? Promise.resolve()).then(run, run);
    this.updating.set(id, next.catch(() => {}));
    return next;
  }

  async remove(id: string): Promise<boolean> {
    if (!(await this.read(id))) return false;
    await rm(join(this.dir, `${id}.json`), { force: true });
    return true;
  }
}
