// What an S3 failure means for us: retry it (5xx, throttling, a dropped connection), or stop
// with a message that says what to do (missing object, changed object, no access).
import { setTimeout as sleep } from 'node:timers/promises';
import { ObjectChangedError, WeightsError } from './errors.ts';

export type S3Failure = 'not-found' | 'no-bucket' | 'changed' | 'denied' | 'transient' | 'aborted' | 'fatal';

type SdkErrorShape = { name?: string; code?: string; $metadata?: { httpStatusCode?: number }; cause?: unknown };

const NETWORK_CODES = new Set(['ECONNRESET', 'ECONNREFUSED', 'ETIMEDOUT', 'EPIPE', 'EAI_AGAIN', 'ENOTFOUND', 'ECONNABORTED', 'ERR_STREAM_PREMATURE_CLOSE', 'UND_ERR_SOCKET']);
const DENIED_NAMES = new Set(['AccessDenied', 'Forbidden', 'InvalidAccessKeyId', 'SignatureDoesNotMatch', 'ExpiredToken', 'CredentialsProviderError']);

export function classifyS3Error(err: unknown): S3Failure {
  const e = (err ?? {}) as SdkErrorShape;
  const status = e.$metadata?.httpStatusCode;
  if (e.name === 'AbortError') return 'aborted';
  if (e.name === 'NoSuchBucket') return 'no-bucket';
  if (e.name === 'NoSuchKey' || e.name === 'NotFound' || status === 404) return 'not-found';
  if (e.name === 'PreconditionFailed' || status === 412) return 'changed';
  if ((e.name && DENIED_NAMES.has(e.name)) || status === 403 || status === 401) return 'denied';
  if (status !== undefined && (status >= 500 || status === 429 || status === 408)) return 'transient';
  if (e.name === 'TimeoutError' || e.name === 'RequestTimeout' || e.name === 'SlowDown') return 'transient';
  if (e.code && NETWORK_CODES.has(e.code)) return 'transient';
  if (e.cause && e.cause !== err) return classifyS3Error(e.cause);
  return 'fatal';
}

/** One line for users: what failed on which object, and what to try. */
export function describeS3Error(err: unknown, uri: string): string {
  const e = (err ?? {}) as SdkErrorShape & { message?: string };
  const detail = `${e.name ?? 'Error'}${e.message && e.message !== e.name ? `: ${e.message}` : ''}`;
  const endpoint = process.env.AWS_ENDPOINT_URL_S3 || process.env.AWS_ENDPOINT_URL;
  switch (classifyS3Error(err)) {
    case 'not-found':
      return `${uri}: no such object: push the model again with 'sirocco weights push'`;
    case 'no-bucket':
      return `${uri}: the bucket does not exist${endpoint ? ` at ${endpoint}` : ''}: check the URI and AWS_ENDPOINT_URL`;
    case 'denied':
      return `${uri}: access denied (${detail}): check AWS_ACCESS_KEY_ID / AWS_PROFILE and the bucket policy`;
    case 'changed':
      return `${uri}: the object changed while it was being downloaded: someone re-pushed the model; start again`;
    case 'transient':
      return `${uri}: ${detail} (gave up after retries): check the network and ${endpoint ? `the endpoint ${endpoint}` : 'the S3 region'}, then retry`;
    default:
      // The SDK's own words for a missing setting do not say which variable holds it.
      if (/region is missing/i.test(detail)) return `${uri}: ${detail}: set AWS_REGION (or AWS_ENDPOINT_URL for an S3-compatible store)`;
      if (/could not load credentials/i.test(detail)) return `${uri}: ${detail}: set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or AWS_PROFILE`;
      return `${uri}: ${detail}`;
  }
}

export type RetryOptions = {
  attempts?: number; // total tries, the first included
  baseDelayMs?: number;
  maxDelayMs?: number;
  signal?: AbortSignal;
  onRetry?: (err: unknown, attempt: number, delayMs: number) => void;
};

/** Runs `task`, retrying transient S3 failures with exponential backoff and jitter. */
export async function withRetry<T>(task: (attempt: number) => Promise<T>, options: RetryOptions = {}): Promise<T> {
  const attempts = options.attempts ?? 5;
  const base = options.baseDelayMs ?? 200;
  const max = options.maxDelayMs ?? 5000;
  for (let attempt = 1; ; attempt++) {
    try {
      return await task(attempt);
    } catch (err) {
      if (attempt >= attempts || classifyS3Error(err) !== 'transient' || options.signal?.aborted) throw err;
      const delay = Math.min(max, base * 2 ** (attempt - 1)) * (0.5 + Math.random() / 2);
      options.onRetry?.(err, attempt, delay);
      await sleep(delay, undefined, { signal: options.signal });
    }
  }
}

/** `err` as the error a user sees: our own errors and aborts pass through, S3 errors get a clear message. */
export function asWeightsError(err: unknown, uri: string): unknown {
  if (err instanceof WeightsError) return err;
  const failure = classifyS3Error(err);
  if (failure === 'aborted') return err;
  const message = describeS3Error(err, uri);
  return failure === 'changed' ? new ObjectChangedError(message, { cause: err }) : new WeightsError(message, { cause: err });
}
