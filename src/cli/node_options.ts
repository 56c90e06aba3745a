// What `sirocco node` and `sirocco edge-node` both take: where the model is, where to listen,
// the id it is served as, and the shared secret gateways send.
import { z } from 'zod';

export const positiveCount = (name: string) => z.coerce.number({ error: `--${name} expects a number` }).int().positive();

export const NodeOptions = z.object({
  model: z.string({ error: '--model DIR is required' }).min(1),
  port: z.coerce.number().int().min(0).max(65535).default(8081),
  host: z.string().default('127.0.0.1'),
  'model-id': z.string().min(1).optional(),
  secret: z.string({ error: 'set SIROCCO_NODE_SECRET (at least 16 characters)' }).min(16, 'SIROCCO_NODE_SECRET must be at least 16 characters'),
});
