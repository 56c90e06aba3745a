// The playground's in-browser mode: a Web Worker that fetches a small model and the engine
// from the gateway (/playground/…) and runs them here — the WASM engine, one thread, the same
// node service (sampling, stop rules, streaming text) as a node — so no server computes.
// Messages in: {type: 'load', key} then {type: 'generate', messages, maxTokens, temperature};
// out: {type: 'ready', model, engine, loadSeconds}, {type: 'token', text}, {type: 'done', usage},
// {type: 'error', message}.
import { DEFAULT_NODE_OPTIONS, NodeService } from '../node/node_service.ts';
import { createNoopMeter } from '@opentelemetry/api';
import type { ChatMessage } from '../tokenizer/tokenizer.ts';
import { hostHasRelaxedDot } from '../engine/wasm_relaxed_probe.ts';
import { loadEdgeModel } from './edge_model.ts';

type Message = { type: 'load'; key: string } | { type: 'generate'; messages: ChatMessage[]; maxTokens: number; temperature: number };

const post = (m: object) => (self as unknown as Worker).postMessage(m);
let service: NodeService | null = null;

async function fetchOk(path: string, key: string): Promise<Response> {
  const res = await fetch(path, { headers: { authorization: `Bearer ${key}` } });
  if (!res.ok) {
    const body = (await res.json().catch(() => null)) as { error?: { message?: string } } | null;
    throw new Error(`${path}: ${body?.error?.message ?? `HTTP ${res.status}`}`);
  }
  return res;
}

// The relaxed-SIMD engine where this browser runs it right and the gateway has it built.
async function engineModule(key: string): Promise<WebAssembly.Module> {
  if (hostHasRelaxedDot()) {
    const relaxed = await fetchOk('/playground/sirocco-relaxed.wasm', key).catch(() => null);
    if (relaxed) return WebAssembly.compileStreaming(relaxed);
  }
  return WebAssembly.compileStreaming(fetchOk('/playground/sirocco.wasm', key));
}

async function load(key: string): Promise<void> {
  const started = performance.now();
  const model = (await (await fetchOk('/playground/model', key)).json()) as { id: string };
  const file = (name: string) => fetchOk(`/playground/model/${name}`, key);
  const [module, config, weights, tokenizer, tokenizerConfig] = await Promise.all([
    engineModule(key),
    file('config.json').then((r) => r.text()),
    file('model.safetensors').then((r) => r.arrayBuffer()),
    file('tokenizer.json').then((r) => r.json() as Promise<unknown>),
    file('tokenizer_config.json').then((r) => r.json() as Promise<unknown>, () => null),
  ]);
  // A tab has far more than an edge isolate; the pool stays small all the same.
  const { engine, kvMaxBlocks } = await loadEdgeModel({ config, weights }, module, { memoryLimitBytes: 2 ** 31, kvCacheBytes: 32 * 2 ** 20 });
  service = await NodeService.create(engine, { tokenizer, config: tokenizerConfig }, { ...DEFAULT_NODE_OPTIONS, maxSequences: 1, modelId: model.id, kvMaxBlocks, metrics: { meter: createNoopMeter() } }); // no one scrapes a tab
  post({ type: 'ready', model: model.id, engine: engine.info().backend, loadSeconds: (performance.now() - started) / 1000 });
}

function generate(s: NodeService, m: Extract<Message, { type: 'generate' }>): void {
  const prompt = s.tokenizer.chatPrompt(m.messages);
  s.submit({
    tenant: 'browser',
    sessionKey: null,
    prompt,
    params: {
      maxTokens: m.maxTokens,
      seed: null,
      stop: [],
      ignoreEos: false,
      stopTokenIds: [],
      rules: { presencePenalty: 0, frequencyPenalty: 0, repetitionPenalty: 1, logitBias: [], minTokens: 0 },
      sampling: { temperature: m.temperature, topP: 1, topK: 0, minP: 0, logprobs: false, topLogprobs: 0 },
    },
    listener: {
      onToken: (e) => post({ type: 'token', text: e.text }),
      onDone: (r) => post({ type: 'done', tail: r.tail, usage: { prompt_tokens: r.usage.promptTokens, completion_tokens: r.usage.completionTokens } }),
      onError: (err) => post({ type: 'error', message: err.message }),
    },
  });
}

self.onmessage = async (event: MessageEvent<Message>) => {
  const m = event.data;
  try {
    if (m.type === 'load') await load(m.key);
    else if (!service) throw new Error('the model is not loaded yet');
    else generate(service, m);
  } catch (err) {
    post({ type: 'error', message: (err as Error).message });
  }
};
