// A model directory → config plus the location of every tensor the engine needs, validated:
// headers (safetensors.ts), the shard index, and every shape against the config. Two layouts:
// Hugging Face (config.json + model.safetensors or shards) and Mistral's own (params.json +
// consolidated.safetensors). Nothing is read beyond headers; the engine maps the files itself.
import { access, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { z } from 'zod';
import { readConfig, readMistralParams, type ModelConfig } from './config.ts';
import { ModelLoadError } from './errors.ts';
import { HF_NAMING, MISTRAL_NAMING, requiredTensors, type TensorNaming } from './model_tensors.ts';
import { readSafetensorsHeader, type Dtype, type SafetensorsTensor } from './safetensors.ts';

export type TensorLocation = { name: string; file: number; offset: number; dtype: Dtype; shape: number[] };

// Where headers come from: the weight files on disk (default), or elsewhere — a sharded cold
// start reads them from S3 and never holds the files; an edge worker has them in memory, and
// its config too (else config.json or params.json is read from the directory).
export type HeaderSource = {
  exists(path: string): Promise<boolean>;
  read(path: string): Promise<SafetensorsTensor[]>;
  config?: ModelConfig;
};

export type LayerTensors = {
  attnNorm: TensorLocation;
  wq: TensorLocation;
  wk: TensorLocation;
  wv: TensorLocation;
  wo: TensorLocation;
  ffnNorm: TensorLocation;
  w1?: TensorLocation;
  w2?: TensorLocation;
  w3?: TensorLocation;
  router?: TensorLocation;
  experts?: { w1: TensorLocation; w2: TensorLocation; w3: TensorLocation }[];
};

export type ModelFiles = {
  dir: string;
  config: ModelConfig;
  files: string[];
  tensors: { embed: TensorLocation; finalNorm: TensorLocation; lmHead: TensorLocation; layers: LayerTensors[] };
};

const SINGLE_FILE = 'model.safetensors';
const INDEX_FILE = 'model.safetensors.index.json';
const MISTRAL_PARAMS = 'params.json';
const MISTRAL_WEIGHTS = 'consolidated.safetensors';
const ShardIndex = z.object({ weight_map: z.record(z.string(), z.string()) });

const exists = (p: string) => access(p).then(() => true, () => false);
const LOCAL: HeaderSource = { exists, read: readSafetensorsHeader };

async function weightFiles(dir: string, source: HeaderSource): Promise<{ files: string[]; index: Map<string, string> | null }> {
  const indexPath = join(dir, INDEX_FILE);
  if (await source.exists(indexPath)) {
    let parsed;
    try {
      parsed = ShardIndex.safeParse(JSON.parse(await readFile(indexPath, 'utf8')));
    } catch (err) {
      throw new ModelLoadError(`${indexPath}: not valid JSON (${(err as Error).message})`);
    }
    if (!parsed.success) throw new ModelLoadError(`${indexPath}: expected {"weight_map": {tensor: file}}`);
    const index = new Map(Object.entries(parsed.data.weight_map));
    for (const file of index.values())
      if (file.includes('/') || file.includes('\\') || file === '..')
        throw new ModelLoadError(`${indexPath}: shard name '${file}' must be a file in the model directory`);
    return { files: [...new Set(index.values())].sort(), index };
  }
  if (await source.exists(join(dir, SINGLE_FILE))) return { files: [SINGLE_FILE], index: null };
  throw new ModelLoadError(`${dir}: no ${SINGLE_FILE} or ${INDEX_FILE}: expected Hugging Face safetensors weights`);
}

type Layout = { config: ModelConfig; configFile: string; files: string[]; index: Map<string, string> | null; naming: TensorNaming };

async function detectLayout(dir: string, source: HeaderSource): Promise<Layout> {
  const config = source.config ?? (await readModelConfig(dir));
  if (config.ropeLayout === 'interleaved') {
    if (!(await source.exists(join(dir, MISTRAL_WEIGHTS))))
      throw new ModelLoadError(`${dir}: ${MISTRAL_PARAMS} found but no ${MISTRAL_WEIGHTS} (only safetensors checkpoints are supported)`);
    return { config, configFile: MISTRAL_PARAMS, files: [MISTRAL_WEIGHTS], index: null, naming: MISTRAL_NAMING };
  }
  return { config, configFile: 'config.json', ...(await weightFiles(dir, source)), naming: HF_NAMING };
}

// The model's configuration alone, whichever layout the directory uses.
export async function readModelConfig(dir: string): Promise<ModelConfig> {
  if (!(await exists(join(dir, 'config.json'))) && (await exists(join(dir, MISTRAL_PARAMS)))) return readMistralParams(dir);
  return readConfig(dir);
}

export async function loadModelFiles(dir: string, source: HeaderSource = LOCAL): Promise<ModelFiles> {
  const { config, configFile, files, index, naming } = await detectLayout(dir, source);
  const paths = files.map((f) => join(dir, f));

  const found = new Map<string, { file: number; tensor: SafetensorsTensor }>();
  for (const [file, path] of paths.entries()) {
    for (const tensor of await source.read(path)) {
      const other = found.get(tensor.name);
      if (other) throw new ModelLoadError(`tensor ${tensor.name} appears in both ${paths[other.file]} and ${path}`);
      if (index && index.get(tensor.name) !== files[file])
        throw new ModelLoadError(`${path}: tensor ${tensor.name} is not listed for this file in ${INDEX_FILE}`);
      found.set(tensor.name, { file, tensor });
    }
  }
  for (const [name, file] of index ?? [])
    if (!found.has(name)) throw new ModelLoadError(`${join(dir, file)}: tensor ${name} is listed in ${INDEX_FILE} but missing from the file`);

  const expected = requiredTensors(config, naming);
  const hasLmHead = found.has(naming.lmHead) && !config.tieWordEmbeddings;
  if (hasLmHead) expected.push({ name: naming.lmHead, shape: [config.vocabSize, config.hiddenSize], why: `vocab_size=${config.vocabSize}` });
  const expectedNames = new Set(expected.map((s) => s.name));
  if (config.tieWordEmbeddings && found.has(naming.lmHead)) expectedNames.add(naming.lmHead); // tied: present but unused

  const where = (name: string) => paths[found.get(name)?.file ?? 0];
  const unexpected = [...found.keys()].filter((name) => !expectedNames.has(name) && !naming.ignored.test(name));
  for (const spec of expected) {
    const hit = found.get(spec.name);
    // Name the files searched, and a stray tensor if there is one: a misspelt name in a header
    // is the usual cause, and the message should point at it.
    const stray = unexpected.length > 0 ? `; ${where(unexpected[0]!)} has unexpected tensor ${unexpected[0]}` : '';
    if (!hit) throw new ModelLoadError(`${dir}: missing tensor ${spec.name} (${configFile}: ${spec.why}) in ${files.join(', ')}${stray}`);
    const shape = hit.tensor.shape;
    if (shape.length !== spec.shape.length || shape.some((d, i) => d !== spec.shape[i]))
      throw new ModelLoadError(
        `${where(spec.name)}: tensor ${spec.name} has shape [${shape}] but ${configFile} implies [${spec.shape}] (${spec.why})`,
      );
  }
  const extra = unexpected[0];
  if (extra !== undefined)
    throw new ModelLoadError(
      `${where(extra)}: tensor ${extra} is not part of a ${config.architecture} with this ${configFile} ` +
        `(num_hidden_layers=${config.numLayers}, num_local_experts=${config.numExperts}): config and weights disagree`,
    );

  const at = (name: string): TensorLocation => {
    const { file, tensor } = found.get(name)!;
    return { name, file, offset: tensor.offset, dtype: tensor.dtype, shape: tensor.shape };
  };
  const layers = Array.from({ length: config.numLayers }, (_, i): LayerTensors => {
    const n = naming.layer(config, i);
    const common = { attnNorm: at(n.attnNorm), wq: at(n.wq), wk: at(n.wk), wv: at(n.wv), wo: at(n.wo), ffnNorm: at(n.ffnNorm) };
    if (n.dense) return { ...common, w1: at(n.dense.w1), w2: at(n.dense.w2), w3: at(n.dense.w3) };
    const moe = n.moe!;
    return { ...common, router: at(moe.router), experts: moe.experts.map((e) => ({ w1: at(e.w1), w2: at(e.w2), w3: at(e.w3) })) };
  });
  return {
    dir,
    config,
    files: paths,
    tensors: { embed: at(naming.embed), finalNorm: at(naming.finalNorm), lmHead: at(hasLmHead ? naming.lmHead : naming.embed), layers },
  };
}

// Every tensor the engine reads, each once (a tied lm_head is the embedding).
export function tensorLocations(model: ModelFiles): TensorLocation[] {
  const { embed, finalNorm, lmHead, layers } = model.tensors;
  const all = [embed, finalNorm, lmHead, ...layers.flatMap((l) => [l.attnNorm, l.wq, l.wk, l.wv, l.wo, l.ffnNorm, l.w1, l.w2, l.w3, l.router, ...(l.experts ?? []).flatMap((e) => [e.w1, e.w2, e.w3])])];
  return [...new Set(all.filter((t): t is TensorLocation => t !== undefined))];
}
