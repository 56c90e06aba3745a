// One line of the usage ledger: what one request cost, written once its outcome is known.
// Token counts are what the engine processed; `cached_tokens` is the part of the prompt
// served from the prefix cache, so it is never more than `prompt_tokens`.
import { z } from 'zod';

export const ENDPOINTS = ['chat.completions', 'completions', 'responses'] as const;
// interrupted: the gateway serving it died first; its record was written at the next start
// (or by another replica) from the admission journal (admission_journal.ts).
export const USAGE_STATUSES = ['ok', 'aborted', 'failed', 'rejected', 'interrupted'] as const;
export type Endpoint = (typeof ENDPOINTS)[number];
export type UsageStatus = (typeof USAGE_STATUSES)[number];

const tokenCount = z.number().int().nonnegative();
const timestamp = z.iso.datetime({ offset: true });

export const UsageRecordSchema = z
  .object({
    request_id: z.string().min(1).max(200),
    key_id: z.string().min(1).max(200),
    model: z.string().max(500),
    endpoint: z.enum(ENDPOINTS),
    status: z.enum(USAGE_STATUSES),
    prompt_tokens: tokenCount,
    cached_tokens: tokenCount,
    completion_tokens: tokenCount,
    n: z.number().int().nonnegative(), // choices requested; 0 only if a rejected request had none
    node: z.string().min(1).nullable(),
    started_at: timestamp,
    finished_at: timestamp,
    error: z.string().nullable(),
    // US dollars from the gateway's prices (pricing.ts); null without a price for the model
    // (and in records written before prices existed).
    cost: z.number().nonnegative().nullable().default(null),
    // The Batch API job the request was a line of (batch_worker.ts); null for the rest.
    batch_id: z.string().max(200).nullable().default(null),
  })
  .refine((r) => r.cached_tokens <= r.prompt_tokens, { message: 'cached_tokens exceeds prompt_tokens', path: ['cached_tokens'] });
export type UsageRecord = z.infer<typeof UsageRecordSchema>;

/** A record's fields in schema order: the ledger table's columns and the CSV export's. */
export const USAGE_COLUMNS = Object.keys(UsageRecordSchema.shape) as (keyof UsageRecord)[];
