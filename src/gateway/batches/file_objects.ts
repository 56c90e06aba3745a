// /v1/files' files in a folder of the data directory: <id> (the bytes) and <id>.json (what the
// API shows, and the key that owns it). Each key sees only its own files.
import { randomBytes } from 'node:crypto';
import { mkdir, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { z } from 'zod';
import { writeFileAtomic } from '../keys/atomic_write.ts';

export const FilePurpose = z.enum(['batch', 'batch_output', 'fine-tune', 'assistants', 'user_data', 'vision', 'evals']);
const FileRecord = z.object({
  id: z.string(),
  object: z.literal('file'),
  bytes: z.number().int(),
  created_at: z.number().int(),
  filename: z.string(),
  purpose: FilePurpose,
  owner: z.string(), // key id: never shown
});
export type FileRecord = z.infer<typeof FileRecord>;
export const fileView = ({ owner: _owner, ...shown }: FileRecord) => shown;

export class FileObjects {
  private constructor(private readonly dir: string) {}

  static async open(dataDir: string): Promise<FileObjects> {
    const dir = join(dataDir, 'files');
    await mkdir(dir, { recursive: true, mode: 0o700 });
    return new FileObjects(dir);
  }

  pathOf(id: string): string {
    return join(this.dir, id);
  }

  async create(owner: string, filename: string, purpose: FileRecord['purpose'], data: Uint8Array | string): Promise<FileRecord> {
    const id = `file-${randomBytes(12).toString('hex')}`;
    await writeFile(this.pathOf(id), data, { mode: 0o600 });
    const record: FileRecord = { id, object: 'file', bytes: (await stat(this.pathOf(id))).size, created_at: Math.floor(Date.now() / 1000), filename, purpose, owner };
    await writeFileAtomic(`${this.pathOf(id)}.json`, JSON.stringify(record));
    return record;
  }

  // The key's file, or null (another key's file is as absent as a missing one).
  async get(owner: string, id: string): Promise<FileRecord | null> {
    if (!/^file-[0-9a-f]{24}$/.test(id)) return null;
    const text = await readFile(`${this.pathOf(id)}.json`, 'utf8').catch(() => null);
    const record = text === null ? null : FileRecord.parse(JSON.parse(text));
    return record?.owner === owner ? record : null;
  }

  async list(owner: string, purpose?: string): Promise<FileRecord[]> {
    const names = (await readdir(this.dir)).filter((n) => n.endsWith('.json'));
    const records = await Promise.all(names.map(async (n) => FileRecord.parse(JSON.parse(await readFile(join(this.dir, n), 'utf8')))));
    return records.filter((r) => r.owner === owner && (purpose === undefined || r.purpose === purpose)).sort((a, b) => b.created_at - a.created_at || (a.id < b.id ? 1 : -1));
  }

  async delete(owner: string, id: string): Promise<boolean> {
    if (!(await this.get(owner, id))) return false;
    await rm(`${this.pathOf(id)}.json`, { force: true });
    await rm(this.pathOf(id), { force: true });
    return true;
  }
}
