// The chat messages a prompt is built from, and the error a conversation the model's chat
// format cannot express raises (the gateway answers it with HTTP 400, not 500).

export type ChatRole = 'system' | 'user' | 'assistant';

export interface ChatMessage {
  role: ChatRole;
  content: string;
}

/** The conversation breaks the chat format's rules; `message` is the format's own words. */
export class ChatTemplateError extends Error {
  override name = 'ChatTemplateError';
}
