// 3× overload: requests arrive at three times what the node can serve, open loop. Every
// answer is a 200, or a 429/503 with Retry-After decided at once (never another 5xx, never a
// stall), and the requests admitted finish in bounded time: at worst a full queue ahead.
import { startStack } from '../../test/helpers/stack.ts';
import { ms, quantile, sleep, type Scenario } from '../scenario.ts';

const SLOTS = 4;
const QUEUE = 8;

export const overload: Scenario = {
  name: '3× overload',
  claim: 'only 200, or 429/503 with Retry-After; p99 of admitted requests within 4× the time to drain a full queue',
  async run({ short }) {
    const stack = await startStack({ nodeArgs: ['--max-sequences', String(SLOTS), '--max-queue', String(QUEUE)] });
    try {
      const key = await stack.createKey('overload');
      const ask = async () => {
        const t0 = performance.now();
        const res = await fetch(`${stack.gateway.url}/v1/chat/completions`, {
          method: 'POST',
          headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
          body: JSON.stringify({ model: 'sirocco-test', messages: [{ role: 'user', content: 'Tell a story.' }], max_tokens: 32, temperature: 0 }),
        });
        await res.arrayBuffer();
        return { status: res.status, retryAfter: res.headers.get('retry-after'), ms: performance.now() - t0 };
      };
      // Capacity: SLOTS clients back to back for a few seconds.
      let served = 0;
      const until = performance.now() + 3000;
      await Promise.all(Array.from({ length: SLOTS }, async () => {
        while (performance.now() < until) if ((await ask()).status === 200) served++;
      }));
      const capacity = served / 3;
      const rate = 3 * capacity;
      const seconds = short ? 4 : 10;
      const pending: Promise<Awaited<ReturnType<typeof ask>>>[] = [];
      const start = performance.now();
      for (let i = 0; performance.now() - start < seconds * 1000; i++) {
        const wait = start + (i * 1000) / rate - performance.now();
        if (wait > 0) await sleep(wait);
        pending.push(ask());
      }
      const answers = await Promise.all(pending);
      const ok = answers.filter((a) => a.status === 200);
      const shed = answers.filter((a) => a.status === 429 || a.status === 503);
      const other = answers.filter((a) => a.status !== 200 && a.status !== 429 && a.status !== 503);
      const noRetryAfter = shed.filter((a) => a.retryAfter === null).length;
      const drainMs = ((QUEUE + SLOTS) / capacity) * 1000;
      const p99 = quantile(ok.map((a) => a.ms), 0.99);
      return {
        figure: `capacity ${capacity.toFixed(1)} req/s, offered ${rate.toFixed(1)} req/s for ${seconds} s: ${ok.length} × 200 (p50 ${ms(quantile(ok.map((a) => a.ms), 0.5))}, p99 ${ms(p99)}), ${shed.length} shed (p99 ${ms(quantile(shed.map((a) => a.ms), 0.99))}), ${other.length} other, ${noRetryAfter} without Retry-After; bound ${ms(4 * drainMs)}`,
        pass: other.length === 0 && noRetryAfter === 0 && ok.length > 0 && p99 <= 4 * drainMs,
        notes: other.slice(0, 5).map((a) => `status ${a.status}`),
      };
    } finally {
      await stack.stop();
    }
  },
};
