// Model objects for /v1/models and /v1/models/{id}: OpenAI's fields (id, object, created,
// owned_by) plus those Mistral's SDK types a model card with (BaseModelCard in
// @mistralai/mistralai: `capabilities` is required, `type: "base"` picks the variant,
// `max_context_length` defaults to 32768 when absent, so it is always sent).
import type { ServedModel } from './node_pool.ts';

export function modelCard({ info, tokenizer }: ServedModel) {
  return {
    id: info.id,
    object: 'model' as const,
    created: 0,
    owned_by: 'sirocco',
    name: info.id,
    description: null,
    max_context_length: info.max_context,
    aliases: [] as string[],
    deprecation: null,
    // Tools need a tokenizer with Mistral's tool tokens (v3 and later).
    capabilities: { completion_chat: true, completion_fim: false, function_calling: tokenizer.toolCallsId !== null, fine_tuning: false, vision: false },
    type: 'base' as const,
  };
}
