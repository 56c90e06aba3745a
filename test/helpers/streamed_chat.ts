// One greedy chat completion streamed through a stack's gateway by the official openai client:
// its text and the usage's completion tokens (to compare nodes of different kinds).
import OpenAI from 'openai';
import type { Stack } from './stack.ts';

export async function streamedChat(stack: Stack, content: string, maxTokens: number): Promise<{ text: string; completionTokens: number }> {
  const client = new OpenAI({ baseURL: `${stack.gateway.url}/v1`, apiKey: await stack.createKey('tests'), maxRetries: 0 });
  const stream = await client.chat.completions.create({
    model: stack.modelId,
    messages: [{ role: 'user', content }],
    max_tokens: maxTokens,
    temperature: 0,
    stream: true,
    stream_options: { include_usage: true },
  });
  let text = '';
  let completionTokens = 0;
  for await (const chunk of stream) {
    text += chunk.choices[0]?.delta.content ?? '';
    completionTokens = chunk.usage?.completion_tokens ?? completionTokens;
  }
  return { text, completionTokens };
}
