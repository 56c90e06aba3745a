// The model a request names, or the OpenAI error that says why there is none: 503 while a
// known model has no healthy node (retry), 404 for a model no node has ever served.
import type { NodePool, ServedModel } from './node_pool.ts';
import { OpenAIError } from './openai_error.ts';

export function servedModel(pool: NodePool, id: string): ServedModel {
  const model = pool.model(id);
  if (model) return model;
  if (pool.knows(id)) throw new OpenAIError(503, `No healthy node serves model ${id} right now: retry shortly.`, 'server_error', null, 'no_node_available');
  throw new OpenAIError(404, `The model '${id}' does not exist.`, 'invalid_request_error', 'model', 'model_not_found');
}
