// Tiny models for tests, generated once per test file into a temp directory.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { makeTiny, type MakeTinyOptions } from '../../weights-tools/make_tiny.ts';

export type TinyOptions = Omit<MakeTinyOptions, 'out'>;

export class TempModels {
  readonly root = mkdtempSync(join(tmpdir(), 'sirocco-test-'));
  private n = 0;

  async make(options: TinyOptions): Promise<string> {
    const out = join(this.root, `model-${this.n++}`);
    await makeTiny({ ...options, out, quiet: true });
    return out;
  }

  cleanup(): void {
    rmSync(this.root, { recursive: true, force: true });
  }
}
