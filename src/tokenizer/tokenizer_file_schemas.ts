// zod schemas for the two Hugging Face tokenizer files, checked once at the boundary. Only
// what Sirocco reads is described; everything else passes through untouched to
// @huggingface/tokenizers, which interprets the pipeline (normalizer, model, decoder …).
import { z } from 'zod';

const addedTokenSchema = z.looseObject({
  id: z.number().int().min(0),
  content: z.string(),
  special: z.boolean().default(false),
});

export const tokenizerJsonSchema = z.looseObject({
  model: z.looseObject({ type: z.string().optional() }),
  added_tokens: z.array(addedTokenSchema).default([]),
  // The library requires these keys to exist; older files leave unused stages out.
  normalizer: z.unknown().default(null),
  pre_tokenizer: z.unknown().default(null),
  post_processor: z.unknown().default(null),
  decoder: z.unknown().default(null),
});

export type TokenizerJson = z.output<typeof tokenizerJsonSchema>;

/** transformers writes special tokens either as strings or as AddedToken objects. */
const tokenContentSchema = z
  .union([z.string(), z.looseObject({ content: z.string() })])
  .nullable()
  .optional()
  .transform((t) => (t === null || t === undefined ? null : typeof t === 'string' ? t : t.content));

/** A single template, or several named ones (the one named "default" is the chat template). */
const chatTemplateSchema = z
  .union([z.string(), z.array(z.object({ name: z.string(), template: z.string() }))])
  .nullable()
  .optional()
  .transform((t) => {
    if (t === null || t === undefined) return null;
    if (typeof t === 'string') return t;
    return t.find((named) => named.name === 'default')?.template ?? null;
  });

export const tokenizerConfigSchema = z.looseObject({
  bos_token: tokenContentSchema,
  eos_token: tokenContentSchema,
  chat_template: chatTemplateSchema,
  additional_special_tokens: z
    .array(tokenContentSchema)
    .default([])
    .transform((tokens) => tokens.filter((t): t is string => t !== null)),
});

export type TokenizerConfig = z.output<typeof tokenizerConfigSchema>;

/** One line per problem, each naming the field at fault. */
export function describeIssues(error: z.ZodError): string {
  return error.issues.map((issue) => `${issue.path.join('.') || '(root)'}: ${issue.message}`).join('; ');
}
