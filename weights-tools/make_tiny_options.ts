// Options of `make-tiny`, validated once with zod: a preset plus overrides become one
// consistent ModelShape, or a list of issues naming the option at fault.
import { z } from 'zod';
import { presetNames, presets, type ModelShape } from './presets.ts';

const positiveInt = z.number().int().positive();

export const weightDtypes = ['f32', 'f16', 'bf16'] as const;
export type WeightDtype = (typeof weightDtypes)[number];

const rawOptionsSchema = z.object({
  preset: z.enum(presetNames),
  /** Base seed; each tensor's stream is derived from it and the tensor's name. */
  seed: z.number().int().min(0).max(0xffff_ffff).default(0),
  dtype: z.enum(weightDtypes).default('f32'),
  out: z.string().min(1, 'output directory must not be empty'),
  hidden: positiveInt.optional(),
  intermediate: positiveInt.optional(),
  layers: positiveInt.optional(),
  heads: positiveInt.optional(),
  kvHeads: positiveInt.optional(),
  headDim: positiveInt.optional(),
  /** 0 or 1 = dense Mistral FFN, ≥ 2 = Mixtral MoE. */
  experts: z.number().int().min(0).optional(),
  topK: positiveInt.optional(),
  /** null = full causal attention. */
  window: positiveInt.nullable().optional(),
  vocab: positiveInt.optional(),
  ropeTheta: z.number().positive().finite().optional(),
  eps: z.number().positive().finite().optional(),
  tie: z.boolean().optional(),
  /** 1 = a single model.safetensors; N ≥ 2 = N shards plus an index. */
  shards: positiveInt.default(1),
  /** No progress or summary on stderr (tests). */
  quiet: z.boolean().default(false),
});

type RawOptions = z.output<typeof rawOptionsSchema>;

/** What makeTiny does once options are resolved: the shape plus how to write it. */
export interface MakeTinyPlan {
  preset: RawOptions['preset'];
  shape: ModelShape;
  seed: number;
  dtype: WeightDtype;
  out: string;
  shards: number;
  quiet: boolean;
}

function resolveShape(o: RawOptions): ModelShape {
  const base: ModelShape = presets[o.preset];
  // Experts 0 and 1 both mean dense; a dense preset turned MoE defaults to Mixtral's top-2.
  const experts = o.experts ?? base.experts;
  const isMoe = experts >= 2;
  return {
    hidden: o.hidden ?? base.hidden,
    intermediate: o.intermediate ?? base.intermediate,
    layers: o.layers ?? base.layers,
    heads: o.heads ?? base.heads,
    kvHeads: o.kvHeads ?? base.kvHeads,
    headDim: o.headDim ?? base.headDim,
    vocab: o.vocab ?? base.vocab,
    experts: isMoe ? experts : 0,
    topK: isMoe ? (o.topK ?? (base.topK > 0 ? Math.min(base.topK, experts) : 2)) : 0,
    window: o.window === undefined ? base.window : o.window,
    ropeTheta: o.ropeTheta ?? base.ropeTheta,
    eps: o.eps ?? base.eps,
    tie: o.tie ?? base.tie,
    maxPositions: base.maxPositions,
  };
}

function toPlan(o: RawOptions): MakeTinyPlan {
  return { preset: o.preset, shape: resolveShape(o), seed: o.seed, dtype: o.dtype, out: o.out, shards: o.shards, quiet: o.quiet };
}

/** Rules that involve several options at once; each issue's path names the option to fix. */
function checkConsistency(plan: MakeTinyPlan, raw: RawOptions, issue: (path: string, message: string) => void): void {
  const s = plan.shape;
  if (s.heads % s.kvHeads !== 0) {
    issue('kvHeads', `heads (${s.heads}) must be a multiple of kv-heads (${s.kvHeads})`);
  }
  if (s.headDim % 2 !== 0) issue('headDim', `head-dim (${s.headDim}) must be even: RoPE rotates pairs`);
  if (s.vocab < 3) issue('vocab', `vocab (${s.vocab}) must hold at least the 3 special tokens <unk> <s> </s>`);
  if (s.experts === 0 && raw.topK !== undefined) {
    issue('topK', 'top-k only applies to MoE models (experts ≥ 2)');
  }
  if (s.experts > 0 && s.topK > s.experts) {
    issue('topK', `top-k (${s.topK}) must not exceed experts (${s.experts})`);
  }
  // Shards are cut between layer groups (embeddings, each layer, final norm + lm_head).
  if (plan.shards > s.layers + 2) {
    issue('shards', `shards (${plan.shards}) must not exceed layers + 2 (${s.layers + 2})`);
  }
}

export const makeTinyOptionsSchema = rawOptionsSchema.transform((raw, ctx) => {
  const plan = toPlan(raw);
  checkConsistency(plan, raw, (path, message) => ctx.issues.push({ code: 'custom', message, path: [path], input: raw }));
  return plan;
});

/** Options as callers pass them (defaults may be left out). */
export type MakeTinyOptions = z.input<typeof makeTinyOptionsSchema>;

/** camelCase option → the CLI flag users typed: kvHeads → --kv-heads. */
export const flagName = (option: string): string => `--${option.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)}`;

/** One line per problem, each naming the flag to fix. */
export function describeOptionIssues(error: z.ZodError): string {
  return error.issues
    .map((issue) => {
      const where = issue.path.length > 0 ? `${flagName(String(issue.path[0]))}: ` : '';
      return `${where}${issue.message}`;
    })
    .join('\n');
}
