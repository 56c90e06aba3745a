// OpenAI's response_format, validated at the node's boundary:
//   {type: 'text'}                                   no constraint
//   {type: 'json_object'}                            any JSON object
//   {type: 'json_schema', json_schema: {name, description?, schema?, strict?}}
// Fields OpenAI may add later are ignored; wrong types or values are errors naming the field.
import { z } from 'zod';
import { ResponseFormatError } from './response_format_error.ts';

const jsonSchemaObject = z.record(z.string(), z.unknown(), { error: 'must be a JSON Schema object' });

const responseFormatSchema = z.discriminatedUnion(
  'type',
  [
    z.object({ type: z.literal('text') }),
    z.object({ type: z.literal('json_object') }),
    z.object({
      type: z.literal('json_schema'),
      json_schema: z.object(
        {
          // OpenAI's rule for the name: a-z, A-Z, 0-9, underscores and dashes, at most 64.
          name: z.string({ error: 'is required (a-z, A-Z, 0-9, _ and -, at most 64 characters)' }).regex(/^[A-Za-z0-9_-]{1,64}$/, {
            error: 'must be 1-64 characters of a-z, A-Z, 0-9, _ and -',
          }),
          description: z.string().optional(),
          // Absent: any JSON object, as with json_object.
          schema: jsonSchemaObject.optional(),
          strict: z.boolean().nullable().optional(),
        },
        { error: 'is required: {name, schema, strict}' },
      ),
    }),
  ],
  { error: "type must be 'text', 'json_object' or 'json_schema'" },
);

export type ResponseFormat =
  | { type: 'text' }
  | { type: 'json_object' }
  | { type: 'json_schema'; name: string; schema: Record<string, unknown> | null; strict: boolean };

/** Parses a request's response_format (undefined/null = text); throws ResponseFormatError. */
export function parseResponseFormat(value: unknown, param = 'response_format'): ResponseFormat {
  if (value === undefined || value === null) return { type: 'text' };
  const parsed = responseFormatSchema.safeParse(value);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    const where = [param, ...issue.path.map(String)].join('.');
    throw new ResponseFormatError(where, issue.message);
  }
  const format = parsed.data;
  if (format.type !== 'json_schema') return format;
  const { name, schema, strict } = format.json_schema;
  return { type: 'json_schema', name, schema: schema ?? null, strict: strict ?? false };
}
