// A tokenizer_config.json chat template, rendered with @huggingface/jinja the way transformers'
// apply_chat_template does: `messages`, `tools` (only when there are some), `bos_token`,
// `eos_token`, `add_generation_prompt` and (from the library) `raise_exception` are in scope.
import { Template } from '@huggingface/jinja';
import { ChatTemplateError, type ChatMessage, type ChatTool } from './chat_messages.ts';

export interface ChatTemplateVariables {
  bosToken: string;
  eosToken: string;
}

export class ChatTemplate {
  private readonly template: Template;

  /** Parses once, so a broken template fails when the model loads, not on a request. */
  constructor(source: string) {
    try {
      this.template = new Template(source);
    } catch (error) {
      throw new Error(`chat_template does not parse: ${error instanceof Error ? error.message : String(error)}`);
    }
  }

  /** The prompt text; a template that refuses the conversation throws ChatTemplateError. */
  render(messages: readonly ChatMessage[], vars: ChatTemplateVariables, tools: readonly ChatTool[] = []): string {
    try {
      return this.template.render({
        messages: messages.map((m) => ({ ...m })),
        ...(tools.length > 0 ? { tools } : {}),
        bos_token: vars.bosToken,
        eos_token: vars.eosToken,
        // Mistral's prompt already ends where the assistant starts; templates that want an
        // explicit assistant header read this.
        add_generation_prompt: true,
      });
    } catch (error) {
      // The library's own raise_exception throws an Error carrying the template's message;
      // anything else a template that parsed trips over is about this conversation too.
      throw new ChatTemplateError(error instanceof Error ? error.message : String(error));
    }
  }
}
