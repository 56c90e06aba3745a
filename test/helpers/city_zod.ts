// The structured-output schema of test/helpers/city_schema.ts written in zod, for the client
// frameworks (AI SDK, LangChain, LlamaIndex, Mistral's SDK) that take a zod schema and turn it
// into a JSON schema themselves. Bounded strings and arrays keep a random model's output short.
import { z } from 'zod';

export const CITY_ZOD = z.object({
  name: z.string().max(12),
  population: z.number().int().min(0).max(40000000),
  capital: z.boolean(),
  climate: z.enum(['arid', 'temperate', 'tropical', 'polar']),
  districts: z.array(z.string().max(8)).max(3),
});

export type City = z.infer<typeof CITY_ZOD>;
