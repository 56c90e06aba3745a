// Malformed weights are refused before the engine sees them, each with its own error that
// names the file and the tensor; the process keeps running.
import { cpSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Engine } from '../src/engine/engine.ts';
import { ModelLoadError } from '../src/engine/errors.ts';
import { TempModels } from './helpers/models.ts';

const models = new TempModels();
let good: string;
let n = 0;
beforeAll(async () => {
  good = await models.make({ preset: 'mistral-tiny', seed: 1 });
});
afterAll(() => models.cleanup());

type Header = Record<string, { dtype: string; shape: number[]; data_offsets: [number, number] } | Record<string, string>>;
type Entry = { dtype: string; shape: number[]; data_offsets: [number, number] };

// A copy of the good model whose model.safetensors is rewritten by `edit`.
function brokenCopy(edit: (header: Header, data: Buffer) => { header?: Header; data?: Buffer; raw?: Buffer }): string {
  const dir = join(models.root, `broken-${n++}`);
  cpSync(good, dir, { recursive: true });
  const file = join(dir, 'model.safetensors');
  const bytes = readFileSync(file);
  const len = Number(bytes.readBigUInt64LE(0));
  const header = JSON.parse(bytes.subarray(8, 8 + len).toString()) as Header;
  const out = edit(header, bytes.subarray(8 + len));
  if (out.raw) {
    writeFileSync(file, out.raw);
  } else {
    const json = Buffer.from(JSON.stringify(out.header ?? header));
    const prefix = Buffer.alloc(8);
    prefix.writeBigUInt64LE(BigInt(json.length));
    writeFileSync(file, Buffer.concat([prefix, json, out.data ?? bytes.subarray(8 + len)]));
  }
  return dir;
}

const tensors = (h: Header) =>
  Object.entries(h)
    .filter(([k]) => k !== '__metadata__')
    .map(([name, e]) => ({ name, ...(e as Entry) }))
    .sort((a, b) => a.data_offsets[0] - b.data_offsets[0]);

async function expectRefused(dir: string, pattern: RegExp): Promise<ModelLoadError> {
  const err = await Engine.load(dir).then(
    () => null,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(ModelLoadError);
  expect((err as Error).message).toMatch(pattern);
  return err as ModelLoadError;
}

describe('safetensors validation', () => {
  it('the untouched model loads', async () => {
    const engine = await Engine.load(good);
    await engine.close();
  });

  it('truncated file', async () => {
    const file = readFileSync(join(good, 'model.safetensors'));
    const dir = brokenCopy(() => ({ raw: file.subarray(0, file.length - 100) }));
    const last = tensors(JSON.parse(file.subarray(8, 8 + Number(file.readBigUInt64LE(0))).toString())).at(-1)!.name;
    const err = await expectRefused(dir, /truncated/);
    expect(err.message).toContain(last);
    expect(err.message).toContain(join(dir, 'model.safetensors'));
  });

  it('file shorter than the header length field', async () => {
    await expectRefused(brokenCopy(() => ({ raw: Buffer.from([1, 2, 3]) })), /truncated: 3 bytes/);
  });

  it('header longer than the file', async () => {
    const dir = brokenCopy((_h, data) => {
      const prefix = Buffer.alloc(8);
      prefix.writeBigUInt64LE(10_000_000n);
      return { raw: Buffer.concat([prefix, Buffer.from('{}'), data]) };
    });
    await expectRefused(dir, /header length 10000000 is longer than the file/);
  });

  it('header length over the 100 MB bound', async () => {
    const dir = brokenCopy(() => {
      const prefix = Buffer.alloc(16);
      prefix.writeBigUInt64LE(1n << 40n);
      return { raw: prefix };
    });
    await expectRefused(dir, /exceeds the 104857600-byte limit/);
  });

  it('header that is not JSON', async () => {
    const dir = brokenCopy(() => {
      const json = Buffer.from('{"a": ');
      const prefix = Buffer.alloc(8);
      prefix.writeBigUInt64LE(BigInt(json.length));
      return { raw: Buffer.concat([prefix, json]) };
    });
    await expectRefused(dir, /header is not valid JSON/);
  });

  it('overlapping tensors', async () => {
    const dir = brokenCopy((h) => {
      const [a, b] = tensors(h);
      const e = h[b!.name] as Entry;
      const size = e.data_offsets[1] - e.data_offsets[0];
      e.data_offsets = [a!.data_offsets[0] + 4, a!.data_offsets[0] + 4 + size];
      return { header: h };
    });
    const err = await expectRefused(dir, /overlap/);
    expect(err.message).toMatch(/tensors \S+ and \S+ overlap/);
  });

  it('gap between tensors', async () => {
    let after = '';
    const dir = brokenCopy((h, data) => {
      const list = tensors(h);
      const cut = list[3]!.data_offsets[0];
      after = list[3]!.name;
      for (const t of list.slice(3)) (h[t.name] as Entry).data_offsets = [t.data_offsets[0] + 16, t.data_offsets[1] + 16];
      return { header: h, data: Buffer.concat([data.subarray(0, cut), Buffer.alloc(16), data.subarray(cut)]) };
    });
    const err = await expectRefused(dir, /gap of 16 bytes before tensor/);
    expect(err.message).toContain(`before tensor ${after}`);
  });

  it('trailing bytes after the last tensor', async () => {
    const dir = brokenCopy((h, data) => ({ header: h, data: Buffer.concat([data, Buffer.alloc(8)]) }));
    await expectRefused(dir, /8 trailing bytes after the last tensor/);
  });

  it('unknown dtype', async () => {
    const dir = brokenCopy((h) => {
      (h['model.norm.weight'] as Entry).dtype = 'F64';
      return { header: h };
    });
    await expectRefused(dir, /tensor model\.norm\.weight: unsupported dtype 'F64'/);
  });

  it('data_offsets that disagree with shape and dtype', async () => {
    const dir = brokenCopy((h) => {
      (h['model.norm.weight'] as Entry).shape = [32];
      return { header: h };
    });
    await expectRefused(dir, /tensor model\.norm\.weight: shape \[32\] of F32 needs 128 bytes but data_offsets .* span 256/);
  });
});

describe('weights against config.json', () => {
  it('missing tensor', async () => {
    const dir = brokenCopy((h) => {
      const victim = 'model.layers.1.self_attn.k_proj.weight';
      const e = h[victim] as Entry;
      // Keep the file well-formed: turn the tensor into an unnamed byte range of another name.
      delete h[victim];
      h['model.layers.1.self_attn.k_proj.renamed'] = e;
      return { header: h };
    });
    await expectRefused(dir, /missing tensor model\.layers\.1\.self_attn\.k_proj\.weight/);
  });

  it('wrong shape', async () => {
    const dir = brokenCopy((h) => {
      const e = h['model.layers.0.self_attn.q_proj.weight'] as Entry;
      e.shape = [e.shape[1]!, e.shape[0]!];
      return { header: h };
    });
    await expectRefused(dir, /tensor model\.layers\.0\.self_attn\.q_proj\.weight has shape \[64,128\] but config\.json implies/);
  });

  it('config with fewer layers than the weights', async () => {
    const dir = brokenCopy(() => ({}));
    const config = JSON.parse(readFileSync(join(dir, 'config.json'), 'utf8'));
    writeFileSync(join(dir, 'config.json'), JSON.stringify({ ...config, num_hidden_layers: 1 }));
    await expectRefused(dir, /tensor model\.layers\.1\.\S+ is not part of .* config and weights disagree/);
  });

  it('config whose hidden_size contradicts the weights', async () => {
    const dir = brokenCopy(() => ({}));
    const config = JSON.parse(readFileSync(join(dir, 'config.json'), 'utf8'));
    writeFileSync(join(dir, 'config.json'), JSON.stringify({ ...config, hidden_size: 32, head_dim: 8 }));
    await expectRefused(dir, /has shape \[512,64\] but config\.json implies \[512,32\] \(vocab_size=512, hidden_size=32\)/);
  });

  it('config that is invalid on its own', async () => {
    const dir = brokenCopy(() => ({}));
    const config = JSON.parse(readFileSync(join(dir, 'config.json'), 'utf8'));
    writeFileSync(join(dir, 'config.json'), JSON.stringify({ ...config, num_key_value_heads: 3 }));
    await expectRefused(dir, /num_attention_heads=8 is not a multiple of num_key_value_heads=3/);
    writeFileSync(join(dir, 'config.json'), JSON.stringify({ ...config, architectures: ['LlamaForCausalLM'] }));
    await expectRefused(dir, /supported are MistralForCausalLM, MixtralForCausalLM/);
  });

  it('directory without config.json or weights', async () => {
    const dir = brokenCopy(() => ({}));
    rmSync(join(dir, 'model.safetensors'));
    await expectRefused(dir, /no model\.safetensors or model\.safetensors\.index\.json/);
    rmSync(join(dir, 'config.json'));
    await expectRefused(dir, /config\.json: not found/);
  });

  it('shard index naming a tensor its file lacks', async () => {
    const dir = await models.make({ preset: 'mistral-tiny', seed: 1, shards: 2 });
    const indexPath = join(dir, 'model.safetensors.index.json');
    const index = JSON.parse(readFileSync(indexPath, 'utf8'));
    const files = [...new Set(Object.values(index.weight_map as Record<string, string>))];
    index.weight_map['model.layers.0.self_attn.extra.weight'] = files[0];
    writeFileSync(indexPath, JSON.stringify(index));
    await expectRefused(dir, /tensor model\.layers\.0\.self_attn\.extra\.weight is listed in model\.safetensors\.index\.json but missing/);
  });
});
