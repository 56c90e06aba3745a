// closeServer (src/cli/serve.ts), which `sirocco node` and `sirocco gateway` stop with: it must
// return while a client keeps polling over a keep-alive connection, or the process outlives a
// SIGTERM or its launcher.
import { setTimeout as sleep } from 'node:timers/promises';
import { Hono } from 'hono';
import { expect, it } from 'vitest';
import { closeServer, listen } from '../src/cli/serve.ts';

it('closeServer returns while a client polls over keep-alive', async () => {
  // Each answer takes 100 ms, so a request is in flight when closeServer starts: its connection
  // is not idle then, and the poller's next request reuses it.
  const app = new Hono();
  app.get('/poll', async (c) => {
    await sleep(100);
    return c.text('ok');
  });
  const { server, url } = await listen(app, '127.0.0.1', 0, 'test server');
  let polling = true, answered = 0;
  const poller = (async () => {
    while (polling) {
      if (await fetch(`${url}/poll`).then((r) => r.text(), () => null)) answered++;
      await sleep(10);
    }
  })();
  await sleep(250);
  expect(answered).toBeGreaterThan(0);
  const closed = await Promise.race([closeServer(server).then(() => true), sleep(5000).then(() => false)]);
  polling = false;
  await poller;
  expect(closed).toBe(true);
});
