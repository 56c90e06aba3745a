// Progress of `sirocco weights quantize` on stderr: one updating line on a terminal, a line
// every 10% in logs, nothing until the summary for small models (done before anyone reads it).
import type { ProgressSink } from './progress.ts';

const quietBelowBytes = 64 << 20;
const ttyRefreshMs = 200;
const mb = (bytes: number): string => (bytes / (1 << 20)).toFixed(1);

export class QuantizeProgress {
  private done = 0;
  private lastTenth = 0;
  private lastPaint = 0;
  private painted = false;
  private readonly started = Date.now();

  constructor(
    private readonly totalBytes: number,
    private readonly sink: ProgressSink | null,
  ) {}

  private line(): string {
    return `quantize: ${Math.floor((100 * this.done) / this.totalBytes)}% (${mb(this.done)} / ${mb(this.totalBytes)} MB written)`;
  }

  advance(bytes: number): void {
    this.done += bytes;
    if (this.sink === null || this.totalBytes < quietBelowBytes) return;
    if (this.sink.isTTY) {
      if (Date.now() - this.lastPaint < ttyRefreshMs) return;
      this.lastPaint = Date.now();
      this.painted = true;
      this.sink.write(`\r${this.line()}\x1b[K`);
      return;
    }
    const tenth = Math.floor((10 * this.done) / this.totalBytes);
    if (tenth > this.lastTenth) {
      this.lastTenth = tenth;
      this.sink.write(`${this.line()}\n`);
    }
  }

  finish(summary: string, bytesIn: number): void {
    if (this.sink === null) return;
    const seconds = ((Date.now() - this.started) / 1000).toFixed(1);
    this.sink.write(`${this.painted ? '\r\x1b[K' : ''}quantize: ${summary}, ${mb(bytesIn)} MB → ${mb(this.totalBytes)} MB in ${seconds} s\n`);
  }
}
