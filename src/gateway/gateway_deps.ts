// What the gateway's routes share: nodes, keys, limits, the usage ledger and metrics.
import type { BatchJobs } from './batches/batch_jobs.ts';
import type { BatchWorker } from './batches/batch_worker.ts';
import type { FileObjects } from './batches/file_objects.ts';
import type { Billing } from './billing.ts';
import type { KeyStore } from './keys/key_store.ts';
import type { UsageLedger } from './ledger/usage_ledger.ts';
import type { GatewayMetrics } from './metrics.ts';
import type { NodePool } from './node_pool.ts';
import type { Prices } from './pricing.ts';
import type { RateLimiter } from './rate_limit.ts';

export type GatewayDeps = {
  pool: NodePool;
  keys: KeyStore;
  limiter: RateLimiter;
  ledger: UsageLedger;
  billing: Billing; // the ledger's writes for admitted requests, journaled (billing.ts)
  metrics: GatewayMetrics;
  connectTimeoutMs: number;
  nodeIdleTimeoutMs: number; // a node stream silent this long (no token, no heartbeat) is abandoned
  requestTimeoutMs: number; // a completion running longer is stopped (504, or an in-band error)
  strictParams: boolean; // unknown request fields: 400 (true) or ignored and logged (false)
  corsOrigins: string[]; // origins browsers may call from ('*' for any); empty = no CORS headers
  prices: Prices; // per model; every usage record carries its cost
  playgroundModel: string | null; // a small model directory the playground runs in the browser (--playground-model)
  // /v1/files and /v1/batches: their stores, the worker that runs the jobs, and the token its
  // requests to this gateway carry (batch_worker.ts)
  batches: { files: FileObjects; jobs: BatchJobs; worker: BatchWorker; token: string };
};

export const MAX_BODY_BYTES = 2 * 1024 * 1024;
// Oversized bodies up to this size are read and discarded so the client sees the 413.
export const MAX_DRAIN_BYTES = 16 * 1024 * 1024;
