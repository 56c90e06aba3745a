// Two tools whose every call a test can check by hand: tool-calling tests of the chat and
// Responses routes and the client-framework tests share them.
import { expect } from 'vitest';

// Small enums and bounded strings keep a random model's calls short.
export const WEATHER_PARAMETERS = {
  type: 'object',
  properties: {
    city: { type: 'string', maxLength: 12 },
    unit: { enum: ['celsius', 'fahrenheit'] },
  },
  required: ['city', 'unit'],
  additionalProperties: false,
} as const;

export const TIME_PARAMETERS = {
  type: 'object',
  properties: { zone: { enum: ['UTC', 'CET', 'PST'] } },
  required: ['zone'],
  additionalProperties: false,
} as const;

export const WEATHER_TOOLS = [
  { type: 'function' as const, function: { name: 'get_weather', description: 'Current weather in a city', parameters: WEATHER_PARAMETERS, strict: true } },
  { type: 'function' as const, function: { name: 'get_time', description: 'Current time in a zone', parameters: TIME_PARAMETERS, strict: true } },
];

/** A call's arguments (a JSON string) fit the named tool's parameters exactly. */
export function expectValidCall(name: string, args: string): void {
  const value = JSON.parse(args) as Record<string, unknown>;
  if (name === 'get_weather') {
    expect(Object.keys(value).sort()).toEqual(['city', 'unit']);
    expect(typeof value.city).toBe('string');
    expect([...(value.city as string)].length).toBeLessThanOrEqual(12); // characters, as JSON Schema counts
    expect(['celsius', 'fahrenheit']).toContain(value.unit);
  } else {
    expect(name).toBe('get_time');
    expect(Object.keys(value)).toEqual(['zone']);
    expect(['UTC', 'CET', 'PST']).toContain(value.zone);
  }
}

/** Mistral's tool-call ids: 9 alphanumeric characters. */
export const MISTRAL_CALL_ID = /^[A-Za-z0-9]{9}$/;
