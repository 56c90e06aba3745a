// /v1/files' files: the metadata (what the API shows, and the key that owns it) in the gateway's
// store, the bytes in FileBlobs (a folder or S3). Each key sees only its own files.
import { randomBytes } from 'node:crypto';
import { z } from 'zod';
import type { FileBlobs } from './file_blobs.ts';
import { ownedBy, type RecordTable } from './record_table.ts';

export const FilePurpose = z.enum(['batch', 'batch_output', 'fine-tune', 'assistants', 'user_data', 'vision', 'evals']);
export const FILE_ID = /^file-[0-9a-f]{24}$/;
export const FileRecord = z.object({
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
  constructor(
    private readonly records: RecordTable<FileRecord>,
    private readonly blobs: FileBlobs,
  ) {}

  // The bytes first: a record is never shown for a file whose bytes are not stored.
  async create(owner: string, filename: string, purpose: FileRecord['purpose'], data: Uint8Array | string): Promise<FileRecord> {
    const id = `file-${randomBytes(12).toString('hex')}`;
    await this.blobs.put(id, data);
    const record: FileRecord = { id, object: 'file', bytes: Buffer.byteLength(data), created_at: Math.floor(Date.now() / 1000), filename, purpose, owner };
    await this.records.save(record);
    return record;
  }

  get(owner: string, id: string): Promise<FileRecord | null> {
    return ownedBy(this.records, owner, id);
  }

  content(id: string): Promise<Uint8Array<ArrayBuffer>> {
    return this.blobs.get(id);
  }

  async list(owner: string, purpose?: string): Promise<FileRecord[]> {
    return (await this.records.list(owner)).filter((r) => purpose === undefined || r.purpose === purpose);
  }

  async delete(owner: string, id: string): Promise<boolean> {
    if (!(await this.get(owner, id))) return false;
    await this.records.remove(id);
    await this.blobs.remove(id);
    return true;
  }
}
