// The next macrotask, so that a loop of engine steps lets the host's pending events run (a
// resolved promise alone would go on without yielding). Node: setImmediate. Browsers and
// edge runtimes: a MessageChannel message — a zero setTimeout there is clamped to 4 ms once
// timers nest 5 deep, as every step's would, which cost a browser decode a tenth of its speed.
type Host = { setImmediate?: (f: () => void) => void };

let next: (() => Promise<void>) | null = null;

function messageChannelYield(): () => Promise<void> {
  const channel = new MessageChannel();
  const waiting: (() => void)[] = [];
  channel.port1.onmessage = () => waiting.shift()?.();
  return () =>
    new Promise((resolve) => {
      waiting.push(resolve);
      channel.port2.postMessage(null);
    });
}

export function yieldToHost(): Promise<void> {
  // Chosen on first use: an edge runtime allows no I/O objects at module scope.
  next ??= (() => {
    const host = globalThis as Host;
    if (host.setImmediate) return () => new Promise<void>((resolve) => host.setImmediate!(resolve));
    if (typeof MessageChannel === 'function') return messageChannelYield();
    return () => new Promise<void>((resolve) => setTimeout(resolve, 0));
  })();
  return next();
}
