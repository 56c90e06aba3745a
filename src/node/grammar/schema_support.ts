// Which JSON Schemas constrained decoding can guarantee, in the canonical form
// json_schema_grammar.ts turns into a grammar.
//
// The rule: every output the grammar allows must validate against the client's schema. A
// keyword is therefore either enforced, or the request is refused with an error naming it. Keywords JSON Schema does not
// define (nullable, x-…) constrain nothing and are dropped; annotations (title, description …)
// too. Type-specific keywords are applied per type, as JSON Schema does: {type: "integer",
// minLength: 2} has no length rule, {minLength: 2} alone is read as a string schema.
//
// Enforced: type (one or several), enum, const, properties, required, additionalProperties,
// items, prefixItems, minItems, maxItems, minLength/maxLength, format date, time, date-time,
// uuid, integer minimum/maximum/exclusiveMinimum/exclusiveMaximum (made inclusive; one
// unbounded side stops at |n| < 10^15), anyOf, oneOf whose branches cannot overlap, $ref to
// #, #/$defs/… or #/definitions/….
//
// Canonical form: several types become anyOf; oneOf becomes anyOf; integer bounds are
// inclusive minimum/maximum; definitions all live in the root's $defs.
import { ResponseFormatError } from './response_format_error.ts';
import { disjoint, families, familyType, isPlainObject, jsonTypes, refused, supportedList, valueHasType, type JsonType, type Schema } from './schema_keywords.ts';
import { stringFormats } from './string_grammar.ts';

export type { Schema };

class Normalizer {
  private subschemas = 0;

  constructor(
    private readonly root: Schema,
    private readonly rootPath: string,
    private readonly maxSubschemas: number,
  ) {}

  fail(path: string, detail: string): never {
    throw new ResponseFormatError(path, detail);
  }

  normalize(node: unknown, path: string): Schema {
    if (++this.subschemas > this.maxSubschemas) this.fail(path, `the schema has more than ${this.maxSubschemas} subschemas`);
    if (node === true) return {};
    if (node === false) this.fail(path, 'the schema false (nothing is valid) cannot be generated');
    if (!isPlainObject(node)) this.fail(path, 'must be a JSON Schema object');
    for (const key of Object.keys(node)) {
      if (key in refused) this.fail(`${path}.${key}`, `"${key}" is ${refused[key]} (${supportedList})`);
      if ((key === '$defs' || key === 'definitions') && path !== this.rootPath) this.fail(`${path}.${key}`, `"${key}" is only supported at the root of the schema`);
    }
    const constraints = Object.keys(node).filter((k) => k === 'type' || k in families || ['enum', 'const', 'anyOf', 'oneOf', '$ref'].includes(k));
    const alone = (key: string, allowed: string[] = []) => {
      const others = constraints.filter((k) => k !== key && !allowed.includes(k));
      if (others.length > 0) this.fail(`${path}.${key}`, `"${key}" next to ${others.map((k) => `"${k}"`).join(', ')} is not supported: put the constraints inside "${key}"`);
    };
    if ('$ref' in node) {
      alone('$ref');
      return { $ref: this.ref(node.$ref, `${path}.$ref`) };
    }
    if ('enum' in node || 'const' in node) return this.literals(node, path, alone);
    if ('anyOf' in node || 'oneOf' in node) {
      const key = 'anyOf' in node ? 'anyOf' : 'oneOf';
      alone(key);
      const branches = node[key];
      if (!Array.isArray(branches) || branches.length === 0) this.fail(`${path}.${key}`, 'must be a non-empty array of schemas');
      const normalized = branches.map((b, i) => this.normalize(b, `${path}.${key}.${i}`));
      if (key === 'oneOf' && !disjoint(normalized)) {
        this.fail(`${path}.oneOf`, 'is only supported when its branches cannot both match (different types, or objects told apart by a required const property): use anyOf');
      }
      return normalized.length === 1 ? normalized[0]! : { anyOf: normalized };
    }
    const types = this.types(node, path);
    if (types === null) return {};
    if (types.length === 1) return this.typed(node, types[0]!, path);
    return { anyOf: types.map((t) => this.typed(node, t, path)) };
  }

  /** The root's $defs/definitions, normalized once; refs point at them. */
  definitions(): Schema | null {
    const out: Schema = {};
    let any = false;
    for (const key of ['$defs', 'definitions'] as const) {
      const defs = this.root[key];
      if (defs === undefined) continue;
      if (!isPlainObject(defs)) this.fail(`${this.rootPath}.${key}`, 'must be an object of schemas');
      for (const [name, schema] of Object.entries(defs)) {
        out[`${key === '$defs' ? '' : 'definitions.'}${name}`] = this.normalize(schema, `${this.rootPath}.${key}.${name}`);
        any = true;
      }
    }
    return any ? out : null;
  }

  private ref(ref: unknown, path: string): string {
    if (typeof ref !== 'string') this.fail(path, 'must be a string');
    if (ref === '#') return '#';
    const match = /^#\/(\$defs|definitions)\/([^/]+)$/.exec(ref);
    const name = match?.[2]?.replaceAll('~1', '/').replaceAll('~0', '~');
    const defs = match ? this.root[match[1]!] : undefined;
    if (!match || !isPlainObject(defs) || !(name! in defs)) {
      this.fail(path, `"${ref}" does not resolve: only "#", "#/$defs/<name>" and "#/definitions/<name>" within the schema are supported`);
    }
    // Every definition is handed to XGrammar under $defs ("definitions.<name>" for the old keyword).
    return `#/$defs/${(match[1] === '$defs' ? '' : 'definitions.') + name!.replaceAll('~', '~0').replaceAll('/', '~1')}`;
  }

  private literals(node: Schema, path: string, alone: (key: string, allowed?: string[]) => void): Schema {
    if ('enum' in node && 'const' in node) this.fail(`${path}.const`, '"const" next to "enum" is not supported: keep one');
    const key = 'enum' in node ? 'enum' : 'const';
    alone(key, ['type']);
    const values = key === 'enum' ? node.enum : [node.const];
    if (!Array.isArray(values) || values.length === 0) this.fail(`${path}.enum`, 'must be a non-empty array');
    const types = this.types(node, path);
    if (types !== null) {
      const bad = values.find((v) => !types.some((t) => valueHasType(v, t)));
      if (bad !== undefined) this.fail(`${path}.${key}`, `${JSON.stringify(bad)} does not have type ${types.join(' or ')}`);
    }
    return key === 'enum' ? { enum: values } : { const: node.const };
  }

  private types(node: Schema, path: string): JsonType[] | null {
    const declared = node.type;
    if (declared === undefined) {
      const present = new Set(Object.keys(node).flatMap((k) => (k in families ? [families[k]!] : [])));
      if (present.size > 1) this.fail(path, `keywords of several types (${[...present].join(', ')}) without "type": add "type"`);
      const [family] = present;
      return family === undefined ? null : [familyType[family]];
    }
    const list = Array.isArray(declared) ? declared : [declared];
    if (list.length === 0 || list.some((t) => !jsonTypes.includes(t as JsonType))) {
      this.fail(`${path}.type`, `must be one of ${jsonTypes.join(', ')} or a non-empty array of them`);
    }
    const set = new Set(list as JsonType[]);
    if (set.has('number')) set.delete('integer'); // integers are numbers
    return [...set];
  }

  private typed(node: Schema, type: JsonType, path: string): Schema {
    switch (type) {
      case 'null':
      case 'boolean':
        return { type };
      case 'integer':
        return this.integer(node, path);
      case 'number':
        for (const key of ['minimum', 'maximum', 'exclusiveMinimum', 'exclusiveMaximum']) {
          if (key in node) {
            this.fail(`${path}.${key}`, `"${key}" on type "number" is not supported: use type "integer" or drop the bound`);
          }
        }
        return { type };
      case 'string':
        return this.string(node, path);
      case 'array':
        return this.array(node, path);
      case 'object':
        return this.object(node, path);
    }
  }

  private count(node: Schema, key: string, path: string): number | undefined {
    const v = node[key];
    if (v === undefined) return undefined;
    if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < 0) this.fail(`${path}.${key}`, 'must be a non-negative integer');
    return v;
  }

  private bound(node: Schema, key: string, path: string): number | undefined {
    const v = node[key];
    if (v === undefined) return undefined;
    if (typeof v !== 'number' || !Number.isFinite(v)) this.fail(`${path}.${key}`, 'must be a number');
    return v;
  }

  // Bounds become inclusive [lo, hi].
  private integer(node: Schema, path: string): Schema {
    const limits = [
      ['minimum', (v: number) => Math.ceil(v)],
      ['exclusiveMinimum', (v: number) => Math.floor(v) + 1],
      ['maximum', (v: number) => Math.floor(v)],
      ['exclusiveMaximum', (v: number) => Math.ceil(v) - 1],
    ] as const;
    let lo = -Infinity;
    let hi = Infinity;
    for (const [key, toInclusive] of limits) {
      const v = this.bound(node, key, path);
      if (v === undefined) continue;
      const inclusive = toInclusive(v);
      if (!Number.isSafeInteger(inclusive)) this.fail(`${path}.${key}`, `must lie within ±${Number.MAX_SAFE_INTEGER}`);
      if (key.includes('inimum')) lo = Math.max(lo, inclusive);
      else hi = Math.min(hi, inclusive);
    }
    if (lo > hi) this.fail(path, `no integer lies within the bounds (${lo} > ${hi})`);
    return { type: 'integer', ...(lo > -Infinity && { minimum: lo }), ...(hi < Infinity && { maximum: hi }) };
  }

  private string(node: Schema, path: string): Schema {
    const minLength = this.count(node, 'minLength', path);
    const maxLength = this.count(node, 'maxLength', path);
    if (minLength !== undefined && maxLength !== undefined && minLength > maxLength) this.fail(`${path}.minLength`, 'is larger than maxLength');
    const format = node.format;
    if (format !== undefined) {
      if (typeof format !== 'string' || !stringFormats.includes(format)) {
        this.fail(`${path}.format`, `${JSON.stringify(format)} is not supported (supported formats: ${stringFormats.join(', ')})`);
      }
      if (minLength !== undefined || maxLength !== undefined) this.fail(`${path}.format`, '"format" together with "minLength"/"maxLength" is not supported');
      return { type: 'string', format };
    }
    return { type: 'string', ...(minLength !== undefined && { minLength }), ...(maxLength !== undefined && { maxLength }) };
  }

  private array(node: Schema, path: string): Schema {
    const out: Schema = { type: 'array' };
    const minItems = this.count(node, 'minItems', path);
    const maxItems = this.count(node, 'maxItems', path);
    if (minItems !== undefined && maxItems !== undefined && minItems > maxItems) this.fail(`${path}.minItems`, 'is larger than maxItems');
    if (node.prefixItems !== undefined) {
      if (!Array.isArray(node.prefixItems)) this.fail(`${path}.prefixItems`, 'must be an array of schemas');
      out.prefixItems = node.prefixItems.map((s, i) => this.normalize(s, `${path}.prefixItems.${i}`));
    }
    if (node.items === false) {
      out.items = false;
      const fixed = (out.prefixItems as Schema[] | undefined)?.length ?? 0;
      if ((minItems ?? 0) > fixed) this.fail(`${path}.minItems`, `asks for more items than the ${fixed} that "items": false allows`);
    } else if (node.items !== undefined) out.items = this.normalize(node.items, `${path}.items`);
    if (minItems !== undefined) out.minItems = minItems;
    if (maxItems !== undefined) out.maxItems = maxItems;
    return out;
  }

  private object(node: Schema, path: string): Schema {
    const out: Schema = { type: 'object' };
    const properties: Schema = {};
    if (node.properties !== undefined) {
      if (!isPlainObject(node.properties)) this.fail(`${path}.properties`, 'must be an object of schemas');
      for (const [name, schema] of Object.entries(node.properties)) properties[name] = this.normalize(schema, `${path}.properties.${name}`);
      out.properties = properties;
    }
    if (node.required !== undefined) {
      const required = node.required;
      if (!Array.isArray(required) || required.some((r) => typeof r !== 'string') || new Set(required).size !== required.length) {
        this.fail(`${path}.required`, 'must be an array of distinct property names');
      }
      const missing = required.find((r) => !(r in properties));
      if (missing !== undefined) this.fail(`${path}.required`, `"${missing}" is required but not defined in "properties"`);
      out.required = required;
    }
    if (node.additionalProperties !== undefined) {
      out.additionalProperties = typeof node.additionalProperties === 'boolean' ? node.additionalProperties : this.normalize(node.additionalProperties, `${path}.additionalProperties`);
    }
    if (node.propertyNames !== undefined) {
      // Property names are always strings: only the schemas saying just that are accepted.
      const names = this.normalize(node.propertyNames, `${path}.propertyNames`);
      const keys = Object.keys(names);
      if (!(keys.length === 0 || (keys.length === 1 && names.type === 'string'))) this.fail(`${path}.propertyNames`, `"propertyNames" other than {"type": "string"} is not supported`);
    }
    return out;
  }
}

export type NormalizeOptions = { path?: string; maxSubschemas?: number };

/**
 * The schema XGrammar is given for `schema`, or a ResponseFormatError naming the first keyword
 * constrained decoding cannot guarantee (path like "response_format.json_schema.schema.properties.x.multipleOf").
 */
export function normalizeJsonSchema(schema: Schema, options: NormalizeOptions = {}): Schema {
  const path = options.path ?? 'response_format.json_schema.schema';
  const normalizer = new Normalizer(schema, path, options.maxSubschemas ?? 2000);
  const defs = normalizer.definitions();
  const root = normalizer.normalize(schema, path);
  return defs === null ? root : { ...root, $defs: defs };
}
