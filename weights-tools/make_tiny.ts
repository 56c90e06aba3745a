// makeTiny: writes a deterministic random-weight model directory in Hugging Face layout
// (config.json, model.safetensors or shards + index, tokenizer.json, tokenizer_config.json).
// Same options → byte-identical files.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { hfConfig } from './hf_config.ts';
import { describeOptionIssues, makeTinyOptionsSchema, type MakeTinyOptions, type MakeTinyPlan } from './make_tiny_options.ts';
import { WriteProgress } from './progress.ts';
import { layoutWeightFiles, shardIndex, shardIndexFile, type WeightFile } from './shard_layout.ts';
import { safetensorsHeader, tensorBytes, writeSafetensors } from './safetensors_write.ts';
import { elementCount, planTensors } from './tensor_plan.ts';
import { tokenizerFilesFor } from './tokenizer_files.ts';

export type { MakeTinyOptions, MakeTinyPlan } from './make_tiny_options.ts';

/** Weight files a previous run may have left: a stale index would shadow new weights. */
const weightFilePattern = /^model(-\d{5}-of-\d{5})?\.safetensors(\.index\.json)?$/;

const writeJson = (file: string, value: unknown): void => fs.writeFileSync(file, `${JSON.stringify(value, null, 2)}\n`);

function fileBytes(file: WeightFile, plan: MakeTinyPlan): number {
  const data = file.tensors.reduce((n, t) => n + tensorBytes(t, plan.dtype), 0);
  return safetensorsHeader(file.tensors, plan.dtype).length + data;
}

function formatCount(n: number): string {
  if (n >= 1e9) return `${(n / 1e9).toFixed(2)} B`;
  if (n >= 1e6) return `${(n / 1e6).toFixed(2)} M`;
  return `${(n / 1e3).toFixed(1)} k`;
}

/** Validates options (throws with one line per problem) and writes the model directory. */
export async function makeTiny(options: MakeTinyOptions): Promise<void> {
  const parsed = makeTinyOptionsSchema.safeParse(options);
  if (!parsed.success) throw new Error(`invalid make-tiny options:\n${describeOptionIssues(parsed.error)}`);
  await writeModel(parsed.data);
}

/** Writes an already validated plan. */
export async function writeModel(plan: MakeTinyPlan): Promise<void> {
  const { shape, dtype, out } = plan;
  fs.mkdirSync(out, { recursive: true });
  for (const name of fs.readdirSync(out)) {
    if (weightFilePattern.test(name)) fs.rmSync(path.join(out, name));
  }

  const tensors = planTensors(shape);
  const files = layoutWeightFiles(tensors, dtype, plan.shards);
  const progress = new WriteProgress(
    'make-tiny',
    files.reduce((n, f) => n + fileBytes(f, plan), 0),
    plan.quiet ? null : process.stderr,
  );

  writeJson(path.join(out, 'config.json'), hfConfig(shape, dtype));
  const tokenizerFiles = await tokenizerFilesFor(shape.vocab, shape.maxPositions);
  writeJson(path.join(out, 'tokenizer.json'), tokenizerFiles.tokenizer);
  writeJson(path.join(out, 'tokenizer_config.json'), tokenizerFiles.tokenizerConfig);
  for (const file of files) {
    writeSafetensors(path.join(out, file.file), file.tensors, dtype, plan.seed, (bytes) => progress.advance(bytes));
    // Let signals and pending I/O through between files of a multi-GB model.
    await new Promise((resolve) => setImmediate(resolve));
  }
  if (files.length > 1) writeJson(path.join(out, shardIndexFile), shardIndex(files, dtype));

  const params = tensors.reduce((n, t) => n + elementCount(t.shape), 0);
  const fileCount = files.length > 1 ? `, ${files.length} shards` : '';
  progress.finish(`wrote ${out} (${plan.preset}, ${formatCount(params)} params, ${dtype}${fileCount})`);
}
