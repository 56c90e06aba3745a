// Loading a node's model the Node way: a local directory, S3 (whole files, or each shard's
// slices) or the Hugging Face Hub, on the native or the WASM engine; then the service over it.
import { resolve } from 'node:path';
import type { ModelConfig } from '../engine/config.ts';
import { kvBlockBytes } from '../engine/native.ts';
import { readTokenizerFiles } from '../tokenizer/tokenizer.ts';
import { modelNameOf, resolveModelDir } from '../weights/model_uri.ts';
import { openEngine } from '../weights/shard_load.ts';
import { NodeService, type NodeServiceOptions } from './node_service.ts';

export async function loadNodeService(options: NodeServiceOptions): Promise<NodeService> {
  // A remote model's bytes are verified before they load (whole files, or each shard's slices
  // as they arrive): until this returns there is no service, so the node is never ready on
  // unverified weights.
  let kvMaxBlocks = 0;
  const engineOptions = (config: ModelConfig) => {
    kvMaxBlocks = Math.max(1, Math.floor(options.kvCacheBytes / kvBlockBytes(config, options.kvDtype)));
    return { backend: options.backend, threads: options.threads, kvMaxBlocks, weightsIn: options.weightsIn, moeSplit: options.moeSplit, kvDtype: options.kvDtype };
  };
  const resolveDir = (uri: string) => resolveModelDir(uri, { stats: options.weightsStats });
  const opened = await openEngine(options.modelDir, options.tp ?? 1, engineOptions, resolveDir, { stats: options.weightsStats });
  const dir = resolve(opened.dir);
  try {
    return await NodeService.create(opened.engine, await readTokenizerFiles(dir), { ...options, modelId: options.modelId ?? modelNameOf(options.modelDir), kvMaxBlocks });
  } catch (err) {
    await opened.engine.close();
    throw err;
  }
}
