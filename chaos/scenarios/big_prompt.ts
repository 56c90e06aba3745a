// Big prompts beside small requests: while two clients (processes of their own) send nothing
// but huge prompts — 1.9 MB, refused by its size before it is parsed, and 70 kB, the longest
// that is tokenized (on a worker thread) — small requests keep their latency: their p99
// within 2× of what it is alone.
import { spawn } from 'node:child_process';
import { startStack } from '../../test/helpers/stack.ts';
import { ms, quantile, sleep, type Scenario } from '../scenario.ts';

export const bigPrompt: Scenario = {
  name: '2 MB prompts beside small requests',
  claim: "small requests' p99 within 2× of their p99 alone (+5 ms for timer noise)",
  async run({ short }) {
    const stack = await startStack();
    try {
      const key = await stack.createKey('big');
      const post = (content: string, maxTokens: number) =>
        fetch(`${stack.gateway.url}/v1/chat/completions`, {
          method: 'POST',
          headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
          body: JSON.stringify({ model: 'sirocco-test', messages: [{ role: 'user', content }], max_tokens: maxTokens, temperature: 0 }),
        });
      const small = async (seconds: number) => {
        const out: number[] = [];
        const until = performance.now() + seconds * 1000;
        while (performance.now() < until) {
          const t0 = performance.now();
          await (await post('Say hi.', 2)).arrayBuffer();
          out.push(performance.now() - t0);
        }
        return out;
      };
      const seconds = short ? 4 : 10;
      await small(1); // warm up
      const alone = await small(seconds);
      const hogs = [1_900_000, 70_000].map((chars) => {
        const child = spawn(process.execPath, ['--import', 'tsx', 'chaos/hog_client.ts', stack.gateway.url, key, String(chars)], { stdio: ['pipe', 'pipe', 'inherit'] });
        let out = '';
        child.stdout!.on('data', (d: Buffer) => (out += d.toString()));
        return { child, counts: new Promise<Record<string, number>>((resolve) => child.on('exit', () => resolve(JSON.parse(out || '{}') as Record<string, number>))) };
      });
      await sleep(1500); // the hogs are up and sending
      const beside = await small(seconds);
      for (const h of hogs) h.child.stdin!.end();
      const big: Record<string, number> = {};
      for (const h of hogs) for (const [s, n] of Object.entries(await h.counts)) big[s] = (big[s] ?? 0) + n;
      const [a, b] = [quantile(alone, 0.99), quantile(beside, 0.99)];
      return {
        figure: `small requests p99 ${ms(a)} alone, ${ms(b)} beside the big ones (${(b / a).toFixed(2)}×; p50 ${ms(quantile(alone, 0.5))} → ${ms(quantile(beside, 0.5))}); big ones answered ${Object.entries(big).map(([s, n]) => `${n} × ${s}`).join(', ')}`,
        pass: b <= 2 * a + 5 && !Object.keys(big).some((s) => Number(s) >= 500),
      };
    } finally {
      await stack.stop();
    }
  },
};
