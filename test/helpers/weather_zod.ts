// The tools of test/helpers/weather_tools.ts written in zod, for the client frameworks (AI SDK,
// LangChain, LlamaIndex) that take a zod schema and turn it into a tool's JSON schema
// themselves. Strict objects, an enum and a bounded string keep a random model's calls short.
import { expect } from 'vitest';
import { z } from 'zod';
import { expectValidCall } from './weather_tools.ts';

export const WEATHER_ZOD = z.strictObject({
  city: z.string().max(12),
  unit: z.enum(['celsius', 'fahrenheit']),
});

export const TIME_ZOD = z.strictObject({
  zone: z.enum(['UTC', 'CET', 'PST']),
});

/** The zod schema of a weather tool by name, to validate a call's parsed arguments. */
export const WEATHER_TOOL_ZOD = { get_weather: WEATHER_ZOD, get_time: TIME_ZOD } as const;

/** What the tools' execute functions answer (and what round-trip tests send back). */
export const WEATHER_RESULT = { temperature: 21, sky: 'clear' } as const;
export const TIME_RESULT = { time: '12:00' } as const;

/**
 * A call's parsed arguments (an object, or the JSON string some clients keep) validate against
 * the named tool's zod schema and fit its JSON-schema parameters exactly.
 */
export function expectValidInput(name: string, input: unknown): void {
  expect(Object.keys(WEATHER_TOOL_ZOD)).toContain(name);
  const value: unknown = typeof input === 'string' ? JSON.parse(input) : input;
  const parsed = WEATHER_TOOL_ZOD[name as keyof typeof WEATHER_TOOL_ZOD].safeParse(value);
  expect(parsed.success, JSON.stringify(value)).toBe(true);
  expectValidCall(name, JSON.stringify(value));
}
