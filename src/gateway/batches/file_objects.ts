// /v1/files' files in a folder of the data directory: <id> (the bytes) and <id>.json (what the
// API shows, and the key that owns it). Each key sees only its own files.
import { randomBytes } from 'node:crypto';
import { rm, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { z } from 'zod';
import { RecordFolder } from './record_folder.ts';

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
  private constructor(private readonly records: RecordFolder<FileRecord>) {}

  static async open(dataDir: string): Promise<FileObjects> {
    return new FileObjects(await RecordFolder.open(join(dataDir, 'files'), /^file-[0-9a-f]{24}$/, FileRecord));
  }

  pathOf(id: string): string {
    return join(this.records.dir, id);
  }

  async create(owner: string, filename: string, purpose: FileRecord['purpose'], data: Uint8Array | string): Promise<FileRecord> {
    const id = `file-${randomBytes(12).toString('hex')}`;
    await writeFile(this.pathOf(id), data, { mode: 0o600 });
    const record: FileRecord = { id, object: 'file', bytes: (await stat(this.pathOf(id))).size, created_at: Math.floor(Date.now() / 1000), filename, purpose, owner };
    await this.records.save(record);
    return record;
  }

  get(owner: string, id: string): Promise<FileRecord | null> {
    return this.records.get(owner, id);
  }

  async list(owner: string, purpose?: string): Promise<FileRecord[]> {
    return (await this.records.list(owner)).filter((r) => purpose === undefined || r.purpose === purpose);
  }

  async delete(owner: string, id: string): Promise<boolean> {
    if (!(await this.get(owner, id))) return false;
    await rm(`${this.pathOf(id)}.json`, { force: true });
    await rm(this.pathOf(id), { force: true });
    return true;
  }
}
