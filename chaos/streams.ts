// Streaming clients for the chaos scenarios: a completion stream whose tokens are counted as
// they arrive, that can be cancelled, and that reports how it ended.
export type StreamEnd = 'done' | 'error-event' | 'cut' | 'cancelled';
export type Stream = {
  id: string | null; // x-request-id: what the ledger must hold
  tokens: () => number;
  reached: (n: number) => Promise<void>; // resolves once n tokens arrived (or the stream ended)
  ended: Promise<{ end: StreamEnd; at: number }>;
  cancel: () => void;
};

export async function openStream(url: string, key: string, body: object, session?: string): Promise<Stream> {
  const controller = new AbortController();
  const headers: Record<string, string> = { authorization: `Bearer ${key}`, 'content-type': 'application/json', ...(session ? { 'x-session-id': session } : {}) };
  let res: Response;
  try {
    res = await fetch(`${url}/v1/completions`, { method: 'POST', headers, body: JSON.stringify({ ...body, stream: true }), signal: controller.signal });
  } catch {
    const ended = Promise.resolve({ end: 'cut' as const, at: performance.now() });
    return { id: null, tokens: () => 0, reached: async () => {}, ended, cancel: () => {} };
  }
  let count = 0;
  const waiters: { n: number; resolve: () => void }[] = [];
  // Resolves the waiters whose count is reached (all of them once the stream has ended).
  const wake = (ended = false) => {
    const waiting = waiters.splice(0);
    for (const w of waiting) {
      if (ended || count >= w.n) w.resolve();
      else waiters.push(w);
    }
  };
  let cancelled = false;
  const ended = (async () => {
    const decoder = new TextDecoder();
    let text = '';
    try {
      for await (const chunk of res.body!) {
        const piece = decoder.decode(chunk, { stream: true });
        text += piece;
        count += (piece.match(/"text":/g) ?? []).length;
        wake();
      }
    } catch {
      // cut by a dying process, or by cancel()
    }
    wake(true);
    const end: StreamEnd = cancelled ? 'cancelled' : text.includes('[DONE]') ? 'done' : text.includes('event: error') ? 'error-event' : 'cut';
    return { end, at: performance.now() };
  })();
  return {
    id: res.headers.get('x-request-id'),
    tokens: () => count,
    reached: (n) => (count >= n ? Promise.resolve() : new Promise<void>((resolve) => waiters.push({ n, resolve }))),
    ended,
    cancel: () => {
      cancelled = true;
      controller.abort();
    },
  };
}
