// The nodes behind the gateway: health-checked, grouped by the model they serve, and
// ordered per session key by rendezvous hashing (DESIGN.md §1), so a session returns to
// the node holding its warm cache while that node is healthy, and moves to the next one in
// its own order when it is not.
import { createHash } from 'node:crypto';
import { ModelInfo, NODE_SECRET_HEADER, ReadyStatus } from '../protocol/internal_api.ts';
import { log } from '../telemetry/log.ts';
import { Tokenizer } from '../tokenizer/tokenizer.ts';

export type ServedModel = { info: ModelInfo; tokenizer: Tokenizer };

// Nodes ordered for a session key, best first: each node's score is a hash of (key, node),
// so removing a node moves only the sessions it held.
export function rendezvousOrder(sessionKey: string, urls: string[]): string[] {
  const score = (url: string) => createHash('sha256').update(`${sessionKey}\u0000${url}`).digest().readBigUInt64BE(0);
  return urls
    .map((url) => ({ url, s: score(url) }))
    .sort((a, b) => (a.s < b.s ? 1 : a.s > b.s ? -1 : 0))
    .map((n) => n.url);
}

type NodeState = { url: string; ready: boolean; model: string | null; failures: number };

export type NodePoolOptions = { urls: string[]; secret: string; healthIntervalMs: number; requestTimeoutMs: number };

export class NodePool {
  private nodes: NodeState[];
  private readonly models = new Map<string, ServedModel>();
  private timer: NodeJS.Timeout | null = null;
  // What each node holds: the requests running on it, aborted when it is ejected.
  private readonly held = new Map<string, Set<AbortController>>();

  constructor(private readonly options: NodePoolOptions) {
    for (const url of options.urls) new URL(url); // throws on a malformed URL, at start-up
    this.nodes = options.urls.map((url) => ({ url: url.replace(/\/+$/, ''), ready: false, model: null, failures: 0 }));
  }

  // Replaces the node list (service discovery). Nodes still listed keep their health; new
  // ones wait for their first health check; removed ones stop receiving requests at once.
  async setUrls(urls: string[]): Promise<void> {
    const wanted = [...new Set(urls.map((u) => u.replace(/\/+$/, '')))];
    for (const url of wanted) new URL(url);
    const current = new Map(this.nodes.map((n) => [n.url, n]));
    const added = wanted.filter((u) => !current.has(u)).map((url) => ({ url, ready: false, model: null, failures: 0 }));
    this.nodes = wanted.map((u) => current.get(u) ?? added.find((n) => n.url === u)!);
    if (added.length) log('info', 'nodes discovered', { added: added.length, total: this.nodes.length });
    await Promise.all(added.map((n) => this.check(n)));
  }

  urls(): string[] {
    return this.nodes.map((n) => n.url);
  }

  get secretHeaders(): Record<string, string> {
    return { [NODE_SECRET_HEADER]: this.options.secret };
  }

  start(): Promise<void> {
    const tick = () => this.checkAll().finally(() => (this.timer = setTimeout(tick, this.options.healthIntervalMs).unref()));
    return this.checkAll().then(() => {
      this.timer = setTimeout(tick, this.options.healthIntervalMs).unref();
    });
  }

  stop(): void {
    if (this.timer) clearTimeout(this.timer);
  }

  async checkAll(): Promise<void> {
    await Promise.all(this.nodes.map((n) => this.check(n)));
  }

  private async fetchJson(url: string): Promise<{ status: number; body: unknown }> {
    const res = await fetch(url, { headers: this.secretHeaders, signal: AbortSignal.timeout(this.options.requestTimeoutMs) });
    return { status: res.status, body: await res.json().catch(() => null) };
  }

  private async check(node: NodeState): Promise<void> {
    const wasReady = node.ready;
    try {
      const { body } = await this.fetchJson(`${node.url}/internal/v1/ready`);
      const status = ReadyStatus.parse(body);
      if (status.ready && status.model && !this.models.has(status.model)) await this.loadModel(node);
      node.ready = status.ready && status.model !== null && this.models.has(status.model);
      node.model = status.model;
      node.failures = 0;
    } catch (err) {
      node.ready = false;
      node.failures++;
      if (wasReady || node.failures === 1) log('warn', 'node unhealthy', { node: node.url, error: (err as Error).message });
      // Failed, not draining (a draining node answers ready: false and finishes its requests).
      if (wasReady) this.cancelHeld(node.url, 'node failed its health check');
    }
    if (node.ready && !wasReady) log('info', 'node ready', { node: node.url, model: node.model });
  }

  private async loadModel(node: NodeState): Promise<void> {
    const { body } = await this.fetchJson(`${node.url}/internal/v1/model`);
    const info = ModelInfo.parse(body);
    this.models.set(info.id, { info, tokenizer: Tokenizer.fromJson(info.tokenizer, info.tokenizer_config) });
  }

  // Marks a node failed right away (a request to it failed); health checks bring it back.
  markFailed(url: string): void {
    const node = this.nodes.find((n) => n.url === url);
    if (node?.ready) {
      node.ready = false;
      log('warn', 'node ejected after a failed request', { node: url });
      this.cancelHeld(url, 'node ejected');
    }
  }

  /**
   * A request starting on `url`: its signal aborts when the node is ejected as failed (a
   * failed health check or request; not a node that drains), so nothing waits on a node the
   * pool gave up on. Call release() when the request is done with the node.
   */
  hold(url: string): { signal: AbortSignal; release: () => void } {
    const controller = new AbortController();
    const set = this.held.get(url) ?? new Set();
    this.held.set(url, set.add(controller));
    return { signal: controller.signal, release: () => set.delete(controller) };
  }

  private cancelHeld(url: string, reason: string): void {
    const set = this.held.get(url);
    if (!set || set.size === 0) return;
    log('warn', 'cancelling requests on the node', { node: url, requests: set.size, reason });
    for (const c of set) c.abort(new Error(reason));
    set.clear();
  }

  modelIds(): string[] {
    return [...new Set(this.nodes.filter((n) => n.ready && n.model).map((n) => n.model!))].sort();
  }

  // A model some node served since start-up, healthy or not.
  knows(id: string): boolean {
    return this.models.has(id);
  }

  /**
   * The longest prompt, in characters, any model this pool has served could take: its context
   * at the most characters one token stands for. null before a model is known.
   */
  longestPromptChars(): number | null {
    const all = [...this.models.values()].map((m) => m.info.max_context * m.tokenizer.maxTokenChars);
    return all.length > 0 ? Math.max(...all) : null;
  }

  model(id: string): ServedModel | null {
    return this.modelIds().includes(id) ? (this.models.get(id) ?? null) : null;
  }

  // Ready nodes serving `model`, best first for this session key.
  route(model: string, sessionKey: string): string[] {
    return rendezvousOrder(
      sessionKey,
      this.nodes.filter((n) => n.ready && n.model === model).map((n) => n.url),
    );
  }
}
