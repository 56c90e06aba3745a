// A chat request's messages as the chat template reads them: developer → system, text parts
// joined, tool-call arguments parsed into objects (the Hugging Face template convention) and
// tool-call ids made Mistral ids. Mistral's v3 format only takes 9 alphanumeric characters;
// our own calls have such ids, other ids (OpenAI's "call_…") map to one by a hash, the same
// for the call and for the tool message that answers it.
import { createHash } from 'node:crypto';
import type { ChatMessage } from '../tokenizer/tokenizer.ts';
import { invalidRequest } from './openai_error.ts';
import type { ChatRequestMessage } from './openai_requests.ts';

const MISTRAL_ID = /^[A-Za-z0-9]{9}$/;
const ALPHANUMERIC = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789';

/** A Mistral tool-call id (9 alphanumeric characters) spelled from the first 9 of `bytes`. */
export const mistralIdOf = (bytes: Uint8Array) => Array.from(bytes.subarray(0, 9), (b) => ALPHANUMERIC[b % ALPHANUMERIC.length]).join('');

export function mistralToolCallId(id: string): string {
  return MISTRAL_ID.test(id) ? id : mistralIdOf(createHash('sha256').update(id).digest());
}

const text = (content: string | { text: string }[] | null | undefined) =>
  content == null ? '' : typeof content === 'string' ? content : content.map((p) => p.text).join('');

function parsedArguments(args: string | Record<string, unknown>, param: string): Record<string, unknown> {
  if (typeof args !== 'string') return args;
  let value: unknown;
  try {
    value = JSON.parse(args);
  } catch {
    throw invalidRequest(`Invalid value for '${param}': the arguments must be a JSON object, got ${JSON.stringify(args.slice(0, 80))}`, param);
  }
  if (value === null || typeof value !== 'object' || Array.isArray(value))
    throw invalidRequest(`Invalid value for '${param}': the arguments must be a JSON object`, param);
  return value as Record<string, unknown>;
}

export function chatHistory(messages: readonly ChatRequestMessage[]): ChatMessage[] {
  return messages.map((m, i): ChatMessage => {
    switch (m.role) {
      case 'developer':
        return { role: 'system', content: text(m.content) };
      case 'system':
      case 'user':
        return { role: m.role, content: text(m.content) };
      case 'tool':
        return { role: 'tool', content: text(m.content), tool_call_id: mistralToolCallId(m.tool_call_id) };
      case 'assistant': {
        const calls = m.tool_calls ?? [];
        if (calls.length === 0) return { role: 'assistant', content: text(m.content) };
        return {
          role: 'assistant',
          content: text(m.content),
          tool_calls: calls.map((call, j) => ({
            id: mistralToolCallId(call.id),
            type: 'function',
            function: { name: call.function.name, arguments: parsedArguments(call.function.arguments, `messages[${i}].tool_calls[${j}].function.arguments`) },
          })),
        };
      }
    }
  });
}

/** True when the conversation holds tool calls or tool results (the model must know tools). */
export const mentionsTools = (messages: readonly ChatMessage[]) => messages.some((m) => m.role === 'tool' || (m.tool_calls?.length ?? 0) > 0);
