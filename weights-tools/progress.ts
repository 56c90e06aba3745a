// Progress of a long write on stderr (make-tiny, quantize): one updating line on a terminal,
// a line every 10% in logs, nothing at all for small models (they finish before anyone
// could read it), then one summary line.

const quietBelowBytes = 64 << 20;
const ttyRefreshMs = 200;

const megabytes = (bytes: number): string => (bytes / (1 << 20)).toFixed(1);

export interface ProgressSink {
  isTTY: boolean;
  write(text: string): unknown;
}

export class WriteProgress {
  private done = 0;
  private lastTenth = 0;
  private lastPaint = 0;
  private painted = false;
  private readonly started = Date.now();

  constructor(
    private readonly label: string, // 'make-tiny', 'quantize'
    private readonly totalBytes: number,
    private readonly sink: ProgressSink | null,
  ) {}

  private get shown(): boolean {
    return this.sink !== null && this.totalBytes >= quietBelowBytes;
  }

  private line(): string {
    const percent = Math.floor((100 * this.done) / this.totalBytes);
    return `${this.label}: ${percent}% (${megabytes(this.done)} / ${megabytes(this.totalBytes)} MB)`;
  }

  advance(bytes: number): void {
    this.done += bytes;
    if (!this.shown || this.sink === null) return;
    if (this.sink.isTTY) {
      const now = Date.now();
      if (now - this.lastPaint < ttyRefreshMs) return;
      this.lastPaint = now;
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

  /** The one line every run prints (unless quiet): what was written and how fast. */
  finish(summary: string): void {
    if (this.sink === null) return;
    const seconds = (Date.now() - this.started) / 1000;
    const clear = this.painted ? '\r\x1b[K' : '';
    this.sink.write(`${clear}${this.label}: ${summary}, ${megabytes(this.totalBytes)} MB in ${seconds.toFixed(1)} s\n`);
  }
}
