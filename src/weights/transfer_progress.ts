// Progress of a long transfer on stderr: one updating line on a terminal, a plain line every
// few seconds in logs (so a slow cold start shows it is alive), and one summary at the end.

export interface ProgressSink {
  isTTY?: boolean;
  write(text: string): unknown;
}

export type TransferSnapshot = {
  totalBytes: number; // bytes this transfer has to move
  doneBytes: number;
  elapsedSeconds: number;
  bytesPerSecond: number;
  etaSeconds: number | null; // null until a rate is known
};

const TTY_REFRESH_MS = 250;
const LOG_EVERY_MS = 5000;

const mb = (bytes: number): string => (bytes / 1e6).toFixed(1);
export const formatSeconds = (s: number): string => (s < 60 ? `${s.toFixed(1)} s` : `${Math.floor(s / 60)} min ${Math.round(s % 60)} s`);

export class TransferProgress {
  private done = 0;
  private lastPaint = 0;
  private painted = false;
  private readonly started = performance.now();

  constructor(
    private readonly label: string,
    private totalBytes: number,
    private readonly sink: ProgressSink | null,
  ) {
    this.lastPaint = this.started;
  }

  snapshot(): TransferSnapshot {
    const elapsedSeconds = (performance.now() - this.started) / 1000;
    const bytesPerSecond = elapsedSeconds > 0 ? this.done / elapsedSeconds : 0;
    const left = this.totalBytes - this.done;
    return {
      totalBytes: this.totalBytes,
      doneBytes: this.done,
      elapsedSeconds,
      bytesPerSecond,
      etaSeconds: bytesPerSecond > 0 ? left / bytesPerSecond : null,
    };
  }

  line(): string {
    const s = this.snapshot();
    const percent = this.totalBytes > 0 ? Math.floor((100 * s.doneBytes) / this.totalBytes) : 100;
    const eta = s.etaSeconds === null ? '' : `, ETA ${formatSeconds(s.etaSeconds)}`;
    return `${this.label}: ${percent}% (${mb(s.doneBytes)} / ${mb(this.totalBytes)} MB, ${mb(s.bytesPerSecond)} MB/s${eta})`;
  }

  advance(bytes: number): void {
    this.done += bytes;
    if (this.sink === null) return;
    const now = performance.now();
    if (this.sink.isTTY) {
      if (now - this.lastPaint < TTY_REFRESH_MS) return;
      this.lastPaint = now;
      this.painted = true;
      this.sink.write(`\r${this.line()}\x1b[K`);
    } else if (now - this.lastPaint >= LOG_EVERY_MS) {
      this.lastPaint = now;
      this.sink.write(`${this.line()}\n`);
    }
  }

  /** Bytes that turned out not to need moving (found verified on disk): out of total and rate. */
  exclude(bytes: number): void {
    this.totalBytes -= bytes;
  }

  /** Clears the live line and prints `summary` with the size, time and rate. */
  finish(summary: string): void {
    if (this.sink === null) return;
    const s = this.snapshot();
    const clear = this.painted ? '\r\x1b[K' : '';
    this.sink.write(`${clear}${this.label}: ${summary}, ${mb(s.doneBytes)} MB in ${formatSeconds(s.elapsedSeconds)} (${mb(s.bytesPerSecond)} MB/s)\n`);
  }

  /** Clears the live line without a summary (before an error message). */
  abandon(): void {
    if (this.sink !== null && this.painted) this.sink.write('\r\x1b[K');
  }
}
