// The JSON Schema vocabulary constrained decoding knows (schema_support.ts applies it): which
// keywords are refused and why, which apply to one kind of value, and JSON value types; plus
// when oneOf's branches are disjoint, so that it means anyOf.
export type Schema = Record<string, unknown>;

/** Known JSON Schema constraints that cannot be guaranteed, and why. */
export const refused: Readonly<Record<string, string>> = {
  multipleOf: 'the grammar cannot express it',
  uniqueItems: 'a grammar cannot compare array items',
  contains: 'not supported', minContains: 'not supported', maxContains: 'not supported',
  not: 'not supported', allOf: 'not supported: merge the schemas into one',
  if: 'not supported', then: 'not supported', else: 'not supported',
  dependentRequired: 'not supported', dependentSchemas: 'not supported', dependencies: 'not supported',
  patternProperties: 'not supported', minProperties: 'not supported', maxProperties: 'not supported',
  unevaluatedProperties: 'not supported: use additionalProperties', unevaluatedItems: 'not supported: use items',
  additionalItems: 'not supported: use items with prefixItems',
  pattern: 'not supported (regular expressions are not translated to the grammar)',
  $dynamicRef: 'not supported', $dynamicAnchor: 'not supported', $recursiveRef: 'not supported', $recursiveAnchor: 'not supported',
};

export const supportedList =
  'supported: type, enum, const, properties, required, additionalProperties, items, prefixItems, minItems, maxItems, ' +
  'minLength, maxLength, format (date, time, date-time, uuid), integer minimum/maximum, anyOf, oneOf of disjoint branches, $ref/$defs';

export const jsonTypes = ['null', 'boolean', 'object', 'array', 'number', 'integer', 'string'] as const;
export type JsonType = (typeof jsonTypes)[number];

// Keywords that only apply to one kind of value.
export const families: Readonly<Record<string, 'object' | 'array' | 'string' | 'numeric'>> = {
  properties: 'object', required: 'object', additionalProperties: 'object', propertyNames: 'object',
  items: 'array', prefixItems: 'array', minItems: 'array', maxItems: 'array',
  minLength: 'string', maxLength: 'string', format: 'string',
  minimum: 'numeric', maximum: 'numeric', exclusiveMinimum: 'numeric', exclusiveMaximum: 'numeric',
};
export const familyType = { object: 'object', array: 'array', string: 'string', numeric: 'integer' } as const;

export const isPlainObject = (v: unknown): v is Schema => typeof v === 'object' && v !== null && !Array.isArray(v);

export function typeOfValue(v: unknown): JsonType {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'array';
  if (typeof v === 'number') return Number.isInteger(v) ? 'integer' : 'number';
  return typeof v as JsonType;
}

export const valueHasType = (v: unknown, t: JsonType): boolean => typeOfValue(v) === t || (t === 'number' && typeOfValue(v) === 'integer');

/** Whether no value can match two of the branches (so oneOf = anyOf). */
export function disjoint(branches: Schema[]): boolean {
  const types = branches.map((b) => (Object.keys(b).length >= 1 && typeof b.type === 'string' ? b.type : null));
  if (types.every((t) => t !== null) && new Set(types).size === types.length && !(types.includes('integer') && types.includes('number'))) return true;
  // Objects told apart by a discriminator: a property every branch requires with its own literals.
  if (!branches.every((b) => b.type === 'object' && isPlainObject(b.properties) && Array.isArray(b.required))) return false;
  const first = branches[0]!;
  for (const name of first.required as string[]) {
    const literalSets = branches.map((b) => {
      if (!(b.required as string[]).includes(name)) return null;
      const s = (b.properties as Schema)[name];
      if (!isPlainObject(s)) return null;
      if ('const' in s) return [JSON.stringify(s.const)];
      return Array.isArray(s.enum) ? s.enum.map((v) => JSON.stringify(v)) : null;
    });
    if (literalSets.some((l) => l === null)) continue;
    const all = literalSets.flat();
    if (new Set(all).size === all.length) return true;
  }
  return false;
}
