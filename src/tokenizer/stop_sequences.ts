// Stop sequences with OpenAI semantics: the output ends right before the first stop string to
// appear, and the stop string itself is not part of it. Text arrives in chunks (one per
// token), so a chunk's tail that could still grow into a stop string is held back until the
// next chunks show it does or does not; nothing emitted ever has to be taken back.
//
// "First to appear" means first to be completed as text is generated, ties going to the one
// that starts earlier. That choice makes the result independent of how the text is chunked:
// with stops ["abcd", "bc"], "abcd" stops after "a" whether it arrives whole or as "abc"+"d".

export class StopMatcher {
  private readonly stops: string[];
  /** Text received but not emitted: a possible beginning of a stop string. */
  private held = '';
  private stopped = false;

  constructor(stops: readonly string[]) {
    // An empty stop string would match before any text; OpenAI-style APIs ignore it.
    this.stops = [...new Set(stops.filter((s) => s.length > 0))];
  }

  /** The text that is now safe to emit, and whether a stop string has been reached. */
  push(text: string): { emit: string; stopped: boolean } {
    if (this.stopped) return { emit: '', stopped: true };
    const buffer = this.held + text;
    const stopAt = this.firstStop(buffer);
    if (stopAt !== null) {
      this.stopped = true;
      this.held = '';
      return { emit: buffer.slice(0, stopAt), stopped: true };
    }
    const keep = this.possibleStopStart(buffer);
    this.held = buffer.slice(buffer.length - keep);
    return { emit: buffer.slice(0, buffer.length - keep), stopped: false };
  }

  /** At the end of generation: the held-back text was not a stop after all. */
  flush(): string {
    const out = this.held;
    this.held = '';
    return out;
  }

  /** Where the output ends: the start of the stop string completed first, or null. */
  private firstStop(buffer: string): number | null {
    let best: { end: number; start: number } | null = null;
    for (const stop of this.stops) {
      const start = buffer.indexOf(stop);
      if (start < 0) continue;
      const end = start + stop.length;
      if (best === null || end < best.end || (end === best.end && start < best.start)) best = { end, start };
    }
    return best?.start ?? null;
  }

  /** Length of the longest tail of `buffer` that is a proper beginning of some stop string. */
  private possibleStopStart(buffer: string): number {
    let longest = 0;
    for (const stop of this.stops) {
      for (let n = Math.min(stop.length - 1, buffer.length); n > longest; n--) {
        if (buffer.endsWith(stop.slice(0, n))) {
          longest = n;
          break;
        }
      }
    }
    return longest;
  }
}
