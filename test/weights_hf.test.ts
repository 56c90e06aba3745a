// hf:org/name models: downloaded through @huggingface/hub from a local server that answers
// the Hub's URL shapes, cached, verified, and served by the engine like a local directory.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Engine } from '../src/engine/engine.ts';
import { downloadHfModel, parseHfUri } from '../src/weights/hf_hub.ts';
import { startFakeHub, type FakeHub } from './helpers/fake_hub.ts';
import { TempModels } from './helpers/models.ts';

const models = new TempModels();
const cacheDir = mkdtempSync(join(tmpdir(), 'sirocco-hf-cache-'));
let hub: FakeHub;
let source: string;
beforeAll(async () => {
  source = await models.make({ preset: 'mixtral-tiny', seed: 5 });
  hub = await startFakeHub('sirocco/tiny', source);
});
afterAll(async () => {
  await hub.close();
  models.cleanup();
  rmSync(cacheDir, { recursive: true, force: true });
});

describe('hf: models', () => {
  it('parses hf:org/name[@revision] and refuses anything else', () => {
    expect(parseHfUri('hf:mistralai/Mistral-7B-v0.1')).toEqual({ repo: 'mistralai/Mistral-7B-v0.1', revision: 'main' });
    expect(parseHfUri('hf:org/name@v1.0')).toEqual({ repo: 'org/name', revision: 'v1.0' });
    expect(() => parseHfUri('hf:justname')).toThrow(/expected hf:org\/name/);
    expect(() => parseHfUri('hf:org/name/../x')).toThrow(/expected hf:org\/name/);
  });

  it('downloads into the cache once, and the engine gives the local model\'s logits', async () => {
    const log: string[] = [];
    const dir = await downloadHfModel({ repo: 'sirocco/tiny', revision: 'main' }, { hubUrl: hub.url, cacheDir, log: (l) => log.push(l) });
    expect(Number(/\((\d+) large files verified\)/.exec(log.at(-1)!)![1])).toBeGreaterThanOrEqual(2); // weights + tokenizer.json
    const fetchedFirst = hub.requests.filter((r) => r.startsWith('GET /sirocco/tiny/resolve/')).length;
    expect(fetchedFirst).toBeGreaterThanOrEqual(4);

    const logits = async (d: string) => {
      const engine = await Engine.load(d);
      try {
        return Array.from((await engine.step([{ sequence: engine.createSequence(), tokens: [1, 2, 3, 4] }]))[0]![0]!);
      } finally {
        await engine.close();
      }
    };
    expect(await logits(dir)).toEqual(await logits(source));

    await downloadHfModel({ repo: 'sirocco/tiny', revision: 'main' }, { hubUrl: hub.url, cacheDir, log: () => {} });
    expect(hub.requests.filter((r) => r.startsWith('GET /sirocco/tiny/resolve/')).length).toBe(fetchedFirst);
  });

  it('a file that does not match the Hub\'s sha256 is refused, naming the file', async () => {
    hub.corrupt('model.safetensors');
    const fresh = mkdtempSync(join(tmpdir(), 'sirocco-hf-cache-'));
    try {
      await expect(downloadHfModel({ repo: 'sirocco/tiny', revision: 'main' }, { hubUrl: hub.url, cacheDir: fresh, log: () => {} })).rejects.toThrow(
        /model\.safetensors has sha256 [0-9a-f]{64} but the Hub lists [0-9a-f]{64}/,
      );
    } finally {
      rmSync(fresh, { recursive: true, force: true });
    }
  });

  it('an unknown repository fails with a clear message', async () => {
    await expect(downloadHfModel({ repo: 'nobody/nothing', revision: 'main' }, { hubUrl: hub.url, cacheDir, log: () => {} })).rejects.toThrow(
      /hf:nobody\/nothing@main: download failed: .*HF_TOKEN/,
    );
  });
});
