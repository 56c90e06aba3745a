// Reads one choice's output as text and Mistral tool calls. Once the model writes [TOOL_CALLS]
// (or from the start, when the prompt ended with it), the text is the JSON call list
//   [{"name": "get_weather", "arguments": {"city": "Paris"}}, …]
// and each call is handed out as soon as its object closes, with a fresh Mistral-style id
// (9 alphanumeric characters, the only ids Mistral's chat format takes back). Output that is
// not such a list (possible only when no grammar held it) ends as plain content, as vLLM does.
import { randomBytes } from 'node:crypto';
import { mistralIdOf } from './chat_history.ts';
import type { ToolCallMode } from './tool_calling.ts';

export type ToolCallOut = { id: string; type: 'function'; function: { name: string; arguments: string } };
export type ReadOut = { content: string; calls: ToolCallOut[] };

const newCallId = () => mistralIdOf(randomBytes(9));

function callOf(objectText: string): ToolCallOut | null {
  let value: unknown;
  try {
    value = JSON.parse(objectText);
  } catch {
    return null;
  }
  if (value === null || typeof value !== 'object') return null;
  const { name, arguments: args } = value as { name?: unknown; arguments?: unknown };
  if (typeof name !== 'string' || name === '') return null;
  const text = typeof args === 'string' ? args : JSON.stringify(args ?? {});
  return { id: newCallId(), type: 'function', function: { name, arguments: text } };
}

/**
 * A whole output at once: its tokens (each with the text it brought) and the full text, whose
 * part past the tokens' texts is the tail held back until the end.
 */
export function readOutput(reader: ToolCallReader, tokens: readonly { token: number; text: string }[], text: string): ReadOut & { called: boolean } {
  let content = '';
  let streamed = 0;
  for (const t of tokens) {
    content += reader.push(t.token, t.text).content;
    streamed += t.text.length;
  }
  const end = reader.finish(text.slice(streamed));
  return { content: content + end.content, calls: reader.calls, called: end.called };
}

export class ToolCallReader {
  private calling: boolean;
  private raw = ''; // everything after [TOOL_CALLS]
  private scanned = 0;
  private depth = 0;
  private inString = false;
  private escaped = false;
  private objectStart = -1;
  private broken = false;
  readonly calls: ToolCallOut[] = [];

  constructor(private readonly mode: ToolCallMode | null) {
    this.calling = mode?.forced ?? false;
  }

  /** One token and the text it brought: content to show, and the calls it completed. */
  push(token: number, text: string): ReadOut {
    if (this.calling) return { content: '', calls: this.read(text) };
    // The node leaves special tokens out of the text: any text here is earlier tokens'.
    if (this.mode !== null && token === this.mode.callsId) this.calling = true;
    return { content: text, calls: [] };
  }

  /** The output's end: `tail` is text held back until now. Unreadable calls become content. */
  finish(tail: string): ReadOut & { called: boolean } {
    if (!this.calling) return { content: tail, calls: [], called: false };
    const calls = this.read(tail);
    if (this.calls.length > 0) return { content: '', calls, called: true };
    return { content: this.raw.trimStart(), calls: [], called: false };
  }

  private read(text: string): ToolCallOut[] {
    this.raw += text;
    const done: ToolCallOut[] = [];
    for (; this.scanned < this.raw.length && !this.broken; this.scanned++) {
      const ch = this.raw[this.scanned]!;
      if (this.inString) {
        if (this.escaped) this.escaped = false;
        else if (ch === '\\') this.escaped = true;
        else if (ch === '"') this.inString = false;
        continue;
      }
      if (ch === '"') this.inString = true;
      else if (ch === '[' || ch === '{') {
        // A lone object instead of a list: read it as a list of one.
        if (this.depth === 0 && ch === '{') this.depth = 1;
        if (++this.depth === 2 && ch === '{') this.objectStart = this.scanned;
      } else if (ch === ']' || ch === '}') {
        if (this.depth === 2 && ch === '}') {
          const call = callOf(this.raw.slice(this.objectStart, this.scanned + 1));
          if (call === null) this.broken = true;
          else done.push(call);
        }
        this.depth--;
      } else if (this.depth === 0 && !/\s/.test(ch)) this.broken = true;
    }
    this.calls.push(...done);
    return done;
  }
}
