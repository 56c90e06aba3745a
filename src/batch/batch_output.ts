// The output file of a batch run, append-only, so a killed run leaves whole lines behind (and
// perhaps one torn last line, which a resumed run cuts off): the ids already written are what
// a resumed run skips.
import { open, readFile, truncate } from 'node:fs/promises';
import type { FileHandle } from 'node:fs/promises';
import type { OutputLine } from './batch_lines.ts';

export class BatchOutput {
  private constructor(
    private readonly file: FileHandle,
    readonly written: Set<string>, // output ids already in the file
  ) {}

  static async open(path: string): Promise<BatchOutput> {
    const text = await readFile(path, 'utf8').catch((err: NodeJS.ErrnoException) => {
      if (err.code === 'ENOENT') return '';
      throw err;
    });
    const end = text.lastIndexOf('\n') + 1; // after the last whole line
    const written = new Set<string>();
    for (const line of text.slice(0, end).split('\n')) {
      if (line === '') continue;
      const id = (JSON.parse(line) as { id?: unknown }).id;
      if (typeof id !== 'string') throw new Error(`${path} holds a line without an output id: is it another program's file?`);
      written.add(id);
    }
    const keep = Buffer.byteLength(text.slice(0, end));
    if (keep < Buffer.byteLength(text)) await truncate(path, keep);
    return new BatchOutput(await open(path, 'a'), written);
  }

  async write(lines: OutputLine[]): Promise<void> {
    if (lines.length === 0) return;
    await this.file.write(lines.map((l) => JSON.stringify(l) + '\n').join(''));
    for (const l of lines) this.written.add(l.id);
  }

  close(): Promise<void> {
    return this.file.close();
  }
}
