// The chat template of Mistral-7B-Instruct-v0.1's format, as Jinja for tokenizer_config.json:
//   <s>[INST] {system}\n\n{user} [/INST] {assistant}</s>[INST] {user} [/INST]
// Mistral v1 has no system role, so a system message is folded into the first user turn
// (or becomes the only user turn when nothing follows it). After it, roles must alternate
// user / assistant starting with user; anything else (a later system message, another role)
// is refused with raise_exception, which Sirocco reports to the client as a bad request. mistral_chat_format.ts
// renders the same text for tokenizers that carry no template.

export const mistralV1ChatTemplate = [
  "{%- if messages and messages[0]['role'] == 'system' %}",
  "{%- set system_message = messages[0]['content'] %}",
  '{%- set loop_messages = messages[1:] %}',
  '{%- else %}',
  '{%- set system_message = none %}',
  '{%- set loop_messages = messages %}',
  '{%- endif %}',
  '{{- bos_token }}',
  '{%- if system_message is not none and loop_messages | length == 0 %}',
  "{{- '[INST] ' + system_message + ' [/INST]' }}",
  '{%- endif %}',
  '{%- for message in loop_messages %}',
  "{%- if message['role'] == 'system' %}",
  "{{- raise_exception('A system message may only come first') }}",
  "{%- elif message['role'] != 'user' and message['role'] != 'assistant' %}",
  "{{- raise_exception('Only system, user and assistant roles are supported') }}",
  "{%- elif (message['role'] == 'user') != (loop.index0 % 2 == 0) %}",
  "{{- raise_exception('Conversation roles must alternate user/assistant/user/assistant/...') }}",
  '{%- endif %}',
  "{%- if message['role'] == 'user' %}",
  '{%- if loop.first and system_message is not none %}',
  "{{- '[INST] ' + system_message + '\\n\\n' + message['content'] + ' [/INST]' }}",
  '{%- else %}',
  "{{- '[INST] ' + message['content'] + ' [/INST]' }}",
  '{%- endif %}',
  '{%- else %}',
  "{{- ' ' + message['content'] + eos_token }}",
  '{%- endif %}',
  '{%- endfor %}',
].join('\n');
