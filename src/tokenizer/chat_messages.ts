// The chat messages a prompt is built from, and the error a conversation the model's chat
// format cannot express raises (the gateway answers it with HTTP 400, not 500). Tool calls and
// tools follow the Hugging Face chat-template convention (arguments as an object), which
// Mistral's v3 template and real models' templates read.

export type ChatRole = 'system' | 'user' | 'assistant' | 'tool';

export interface ChatToolCall {
  id: string;
  type: 'function';
  function: { name: string; arguments: unknown };
}

export interface ChatMessage {
  role: ChatRole;
  content: string;
  /** Assistant messages that called tools. */
  tool_calls?: ChatToolCall[];
  /** Tool messages: the call this is the result of. */
  tool_call_id?: string;
}

/** A tool the model may call, as the template renders it. */
export interface ChatTool {
  type: 'function';
  function: { name: string; description?: string; parameters?: Record<string, unknown> };
}

/** The conversation breaks the chat format's rules; `message` is the format's own words. */
export class ChatTemplateError extends Error {
  override name = 'ChatTemplateError';
}
