// A node process from its first second: it listens (not ready) while its model is fetched,
// verified and loaded, so readiness and download progress can be scraped; the NodeService
// arrives when loading ends. Readiness = loaded and not draining.
import { PrometheusMeter } from '../telemetry/prometheus.ts';
import { newFetchStats, type FetchStats } from '../weights/fetch_model.ts';
import { observeWeightsFetch } from '../weights/weights_metrics.ts';
import type { NodeService, NodeServiceOptions } from './node_service.ts';
import { loadNodeService } from './node_service_load.ts';

// What the HTTP layer (node_app.ts) reads of a host: a node process's, or an edge worker's.
export interface ServingHost {
  readonly metrics: PrometheusMeter;
  readonly service: NodeService | null;
  readonly ready: boolean;
  readonly draining: boolean;
  readonly failure?: string; // why it will not turn ready
}

export class NodeHost implements ServingHost {
  readonly metrics = new PrometheusMeter('sirocco-node');
  readonly weights: FetchStats;
  service: NodeService | null = null;
  draining = false;

  constructor(modelUri: string) {
    this.weights = newFetchStats(modelUri);
    observeWeightsFetch(this.metrics.meter, this.weights);
    this.metrics.meter.createObservableGauge('sirocco_node_ready').addCallback((o) => o.observe(this.ready ? 1 : 0));
  }

  get ready(): boolean {
    return this.service !== null && !this.draining;
  }

  async load(options: Omit<NodeServiceOptions, 'weightsStats' | 'metrics'>): Promise<NodeService> {
    this.service = await loadNodeService({ ...options, weightsStats: this.weights, metrics: this.metrics });
    return this.service;
  }

  // Stops taking requests; running ones get `timeoutMs` to finish. True if they all did.
  async drain(timeoutMs: number): Promise<boolean> {
    this.draining = true;
    return this.service ? this.service.drain(timeoutMs) : true;
  }
}
