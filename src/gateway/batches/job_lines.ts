// A running job's output lines, kept as they are written (in input order) so that whoever runs
// the job next — this gateway after a restart, or another replica after this one died — skips
// what is there. The embedded store keeps them in a work file beside the job's record
// (batch_output.ts: append-only, a torn last line cut off); PostgreSQL in a table
// (store/postgres_batch_tables.ts).
import { readFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import type { OutputLine } from '../../batch/batch_lines.ts';
import { BatchOutput } from '../../batch/batch_output.ts';

export interface JobLines {
  /** The job's lines so far, in the order they were appended. */
  read(batchId: string): Promise<OutputLine[]>;
  /** Appends lines (a line whose output id the job holds already is dropped: written once). */
  append(batchId: string, lines: OutputLine[]): Promise<void>;
  /** The job is finished: its lines are in its output and error files. */
  drop(batchId: string): Promise<void>;
}

export class FolderJobLines implements JobLines {
  // Each job's work file, opened once (its torn last line, if a crash left one, cut off then).
  private readonly outputs = new Map<string, Promise<BatchOutput>>();

  constructor(private readonly dir: string) {}

  private path(batchId: string) {
    return join(this.dir, `${batchId}.work.jsonl`);
  }

  private output(batchId: string): Promise<BatchOutput> {
    let output = this.outputs.get(batchId);
    if (!output) {
      this.outputs.set(batchId, (output = BatchOutput.open(this.path(batchId))));
      output.catch(() => this.outputs.delete(batchId)); // tried again next time
    }
    return output;
  }

  // Whole lines only: a torn last one is not a line (the next append cuts it off).
  async read(batchId: string): Promise<OutputLine[]> {
    const text = await readFile(this.path(batchId), 'utf8').catch(() => '');
    return text.slice(0, text.lastIndexOf('\n') + 1).split('\n').filter(Boolean).map((l) => JSON.parse(l) as OutputLine);
  }

  async append(batchId: string, lines: OutputLine[]): Promise<void> {
    const output = await this.output(batchId);
    await output.write(lines.filter((l) => !output.written.has(l.id)));
  }

  async drop(batchId: string): Promise<void> {
    const output = this.outputs.get(batchId);
    this.outputs.delete(batchId);
    await (await output)?.close();
    await rm(this.path(batchId), { force: true });
  }
}
