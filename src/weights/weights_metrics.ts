// A node's weight-download counters as OpenTelemetry instruments, read from the live
// FetchStats when metrics are scraped (all zero for a model served from a local directory).
import type { Meter } from '@opentelemetry/api';
import type { FetchStats } from './fetch_model.ts';

export function observeWeightsFetch(meter: Meter, stats: FetchStats): void {
  const gauge = (name: string, description: string, read: (s: FetchStats) => number) =>
    meter.createObservableGauge(name, { description }).addCallback((o) => o.observe(read(stats)));
  gauge('sirocco_node_weights_bytes_total', 'bytes of the model this node serves, from its manifest', (s) => s.totalBytes);
  gauge('sirocco_node_weights_bytes_downloaded', 'bytes received from storage at start (retries included)', (s) => s.receivedBytes);
  gauge('sirocco_node_weights_bytes_verified', 'bytes downloaded at start and checksum-verified', (s) => s.verifiedBytes);
  gauge('sirocco_node_weights_bytes_cached', 'bytes found already verified in the local cache at start', (s) => s.cachedBytes);
  gauge('sirocco_node_weights_download_retries', 'chunk requests retried after transient errors', (s) => s.retries);
  gauge('sirocco_node_weights_download_seconds', 'time from the first manifest request to the last verified byte', (s) => s.seconds);
}
