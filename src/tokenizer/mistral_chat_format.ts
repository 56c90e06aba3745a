// Mistral's v1 instruct format for tokenizers that carry no chat_template:
//   <s>[INST] {system}\n\n{user} [/INST] {assistant}</s>[INST] {user} [/INST]
// It renders exactly what mistral_v1_chat_template.ts renders, with the same rules:
// an optional system message first (folded into the first user turn), then user / assistant
// alternating, starting with user.
import { ChatTemplateError, type ChatMessage } from './chat_messages.ts';
import type { ChatTemplateVariables } from './chat_template.ts';

export function mistralChatPrompt(messages: readonly ChatMessage[], vars: ChatTemplateVariables): string {
  const system = messages[0]?.role === 'system' ? messages[0].content : null;
  const turns = system === null ? messages : messages.slice(1);
  let prompt = vars.bosToken;
  if (system !== null && turns.length === 0) prompt += `[INST] ${system} [/INST]`;
  turns.forEach((message, i) => {
    if (message.role === 'system') throw new ChatTemplateError('A system message may only come first');
    if (message.role === 'tool' || message.tool_calls?.length) throw new ChatTemplateError('This chat format has no tool calls or tool results');
    if ((message.role === 'user') !== (i % 2 === 0)) {
      throw new ChatTemplateError('Conversation roles must alternate user/assistant/user/assistant/...');
    }
    if (message.role === 'user') {
      const content = i === 0 && system !== null ? `${system}\n\n${message.content}` : message.content;
      prompt += `[INST] ${content} [/INST]`;
    } else {
      prompt += ` ${message.content}${vars.eosToken}`;
    }
  });
  return prompt;
}
