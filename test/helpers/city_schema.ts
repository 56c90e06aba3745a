// A JSON schema whose every output a test can check by hand: structured-output tests of the
// chat and Responses routes share it.
import { expect } from 'vitest';

// Bounded strings and arrays keep a random model's output short.
export const CITY = {
  type: 'object',
  properties: {
    name: { type: 'string', maxLength: 12 },
    population: { type: 'integer', minimum: 0, maximum: 40000000 },
    capital: { type: 'boolean' },
    climate: { enum: ['arid', 'temperate', 'tropical', 'polar'] },
    districts: { type: 'array', items: { type: 'string', maxLength: 8 }, maxItems: 3 },
  },
  required: ['name', 'population', 'capital', 'climate', 'districts'],
  additionalProperties: false,
} as const;

// JSON Schema lengths count characters (code points), not UTF-16 units: "𗖕" is one.
const characters = (s: string) => [...s].length;

export function expectCity(text: string): void {
  const city = JSON.parse(text) as Record<string, unknown>;
  expect(Object.keys(city).sort()).toEqual(['capital', 'climate', 'districts', 'name', 'population']);
  expect(typeof city.name).toBe('string');
  expect(characters(city.name as string)).toBeLessThanOrEqual(12);
  expect(Number.isInteger(city.population)).toBe(true);
  expect(city.population as number).toBeGreaterThanOrEqual(0);
  expect(city.population as number).toBeLessThanOrEqual(40000000);
  expect(typeof city.capital).toBe('boolean');
  expect(['arid', 'temperate', 'tropical', 'polar']).toContain(city.climate);
  expect(Array.isArray(city.districts)).toBe(true);
  expect((city.districts as unknown[]).length).toBeLessThanOrEqual(3);
  for (const d of city.districts as unknown[]) expect(typeof d === 'string' && characters(d) <= 8).toBe(true);
}
