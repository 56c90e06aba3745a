// A node listens before its model is loaded: not ready (503), download progress and readiness
// in its metrics, generation refused; ready once loading ends. In-process via app.request().
import { afterAll, expect, it } from 'vitest';
import { createNodeApp } from '../src/node/node_app.ts';
import { NodeHost } from '../src/node/node_host.ts';
import { DEFAULT_NODE_OPTIONS } from '../src/node/node_service.ts';
import { TempModels } from './helpers/models.ts';

const models = new TempModels();
afterAll(() => models.cleanup());
const SECRET = 'node-host-secret-0123456789';

it('is not ready while loading, reports it in metrics, and turns ready when the model is loaded', async () => {
  const dir = await models.make({ preset: 'sirocco-default', seed: 1, layers: 1 });
  const host = new NodeHost(dir);
  const app = createNodeApp(host, SECRET);
  const get = (path: string) => app.request(path, { headers: { 'x-sirocco-node-secret': SECRET } });
  const metric = async (name: string) => {
    const line = (await (await get('/internal/v1/metrics')).text()).split('\n').find((l) => l.startsWith(name + ' ') || l.startsWith(name + '{'));
    return line === undefined ? undefined : Number(line.split(' ').at(-1));
  };

  const loading = await get('/internal/v1/ready');
  expect(loading.status).toBe(503);
  expect(await loading.json()).toEqual({ ready: false, model: null, draining: false });
  expect((await get('/internal/v1/model')).status).toBe(503);
  expect(await metric('sirocco_node_ready')).toBe(0);
  expect(await metric('sirocco_node_weights_bytes_total')).toBe(0); // a local directory: nothing to download
  const gen = await app.request('/internal/v1/generate', { method: 'POST', headers: { 'x-sirocco-node-secret': SECRET }, body: '{}' });
  expect(gen.status).toBe(503);

  const service = await host.load({ modelDir: dir, ...DEFAULT_NODE_OPTIONS });
  try {
    const ready = await get('/internal/v1/ready');
    expect(ready.status).toBe(200);
    expect(await ready.json()).toEqual({ ready: true, model: service.info.id, draining: false });
    expect(await metric('sirocco_node_ready')).toBe(1);
    expect(await metric('sirocco_node_kv_blocks_in_use')).toBe(0);
    expect(await host.drain(1000)).toBe(true);
    expect((await get('/internal/v1/ready')).status).toBe(503);
  } finally {
    await service.close();
  }
});

// --kv-cache-mb buys positions by the K/V dtype's bytes: a row of head_dim 32 is 64 bytes in
// f16 and 36 in q8_0 (32 int8 + one f32 scale), keys and values, every layer and KV head.
it('reports the K/V pool it holds, in positions, by the K/V dtype', async () => {
  const dir = await models.make({ preset: 'sirocco-default', seed: 1, layers: 2 }); // 2 KV heads of 32
  const kvCacheBytes = 8 * 2 ** 20;
  const capacity = async (kvDtype: 'f16' | 'q8_0') => {
    const host = new NodeHost(dir);
    const app = createNodeApp(host, SECRET);
    const service = await host.load({ modelDir: dir, ...DEFAULT_NODE_OPTIONS, kvCacheBytes, kvDtype });
    try {
      const text = await (await app.request('/internal/v1/metrics', { headers: { 'x-sirocco-node-secret': SECRET } })).text();
      return Number(text.split('\n').find((l) => l.startsWith('sirocco_node_kv_cache_capacity_tokens '))!.split(' ').at(-1));
    } finally {
      await service.close();
    }
  };
  const perPosition = (rowBytes: number) => 2 * 2 * 2 * rowBytes; // K and V × 2 layers × 2 KV heads
  const blocksOf16 = (bytesPerPosition: number) => Math.floor(kvCacheBytes / (16 * bytesPerPosition)) * 16;
  expect(await capacity('f16')).toBe(blocksOf16(perPosition(64)));
  expect(await capacity('q8_0')).toBe(blocksOf16(perPosition(36)));
});
