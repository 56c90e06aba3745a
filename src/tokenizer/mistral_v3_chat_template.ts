// The chat template of Mistral's v3 instruct format (Mistral-7B-Instruct-v0.3), as Jinja for
// tokenizer_config.json, rendering what mistral-common's v3 tokenizer encodes:
//   <s>[INST] {user}[/INST] {assistant}</s>[AVAILABLE_TOOLS] [{tool}, …][/AVAILABLE_TOOLS]
//   [INST] {system}\n\n{user}[/INST][TOOL_CALLS] [{"name": …, "arguments": {…}, "id": "…"}]</s>
//   [TOOL_RESULTS] {"content": …, "call_id": "…"}[/TOOL_RESULTS] {assistant}</s>
// The tool list goes before the last user message, the system prompt into it. Messages use the
// Hugging Face convention (tool_calls[].function.arguments as an object, tool messages with
// tool_call_id), so real v3 models' own templates render the same input.
// Rules, refused with raise_exception: a system message may only come first; after it the
// conversation starts with a user message; a user message follows an assistant answer or tool
// results; an assistant message follows a user message or tool results; tool results follow
// tool calls or other tool results.

export const mistralV3ChatTemplate = [
  "{%- if messages and messages[0]['role'] == 'system' %}",
  "{%- set system_message = messages[0]['content'] %}",
  '{%- set loop_messages = messages[1:] %}',
  '{%- else %}',
  '{%- set system_message = none %}',
  '{%- set loop_messages = messages %}',
  '{%- endif %}',
  '{%- if tools is not defined %}{%- set tools = none %}{%- endif %}',
  "{%- set ns = namespace(last_user = -1, previous = 'none') %}",
  '{%- for message in loop_messages %}',
  "{%- if message['role'] == 'user' %}{%- set ns.last_user = loop.index0 %}{%- endif %}",
  '{%- endfor %}',
  '{{- bos_token }}',
  '{%- if system_message is not none and ns.last_user == -1 %}',
  "{{- '[INST] ' + system_message + '[/INST]' }}",
  '{%- endif %}',
  '{%- for message in loop_messages %}',
  "{%- set role = message['role'] %}",
  "{%- if role == 'assistant' and message['tool_calls'] is defined and message['tool_calls'] %}{%- set role = 'tool_calls' %}{%- endif %}",
  "{%- if role == 'system' %}",
  "{{- raise_exception('A system message may only come first') }}",
  "{%- elif role == 'user' and ns.previous not in ['none', 'assistant', 'tool'] %}",
  "{{- raise_exception('A user message must follow an assistant message or tool results') }}",
  "{%- elif (role == 'assistant' or role == 'tool_calls') and ns.previous not in ['user', 'tool'] %}",
  "{{- raise_exception('An assistant message must follow a user message or tool results') }}",
  "{%- elif role == 'tool' and ns.previous not in ['tool_calls', 'tool'] %}",
  "{{- raise_exception('A tool message must follow an assistant message with tool_calls') }}",
  "{%- elif role not in ['user', 'assistant', 'tool_calls', 'tool'] %}",
  "{{- raise_exception('Only system, user, assistant and tool roles are supported') }}",
  '{%- endif %}',
  "{%- if role == 'user' %}",
  '{%- if tools and loop.index0 == ns.last_user %}',
  "{{- '[AVAILABLE_TOOLS] ' + (tools | tojson) + '[/AVAILABLE_TOOLS]' }}",
  '{%- endif %}',
  '{%- if loop.index0 == ns.last_user and system_message is not none %}',
  "{{- '[INST] ' + system_message + '\\n\\n' + message['content'] + '[/INST]' }}",
  '{%- else %}',
  "{{- '[INST] ' + message['content'] + '[/INST]' }}",
  '{%- endif %}',
  "{%- elif role == 'tool_calls' %}",
  "{{- '[TOOL_CALLS] [' }}",
  "{%- for call in message['tool_calls'] %}",
  "{{- '{\"name\": ' + (call['function']['name'] | tojson) + ', \"arguments\": ' + (call['function']['arguments'] | tojson) + ', \"id\": ' + (call['id'] | tojson) + '}' }}",
  "{%- if not loop.last %}{{- ', ' }}{%- endif %}",
  '{%- endfor %}',
  "{{- ']' + eos_token }}",
  "{%- elif role == 'assistant' %}",
  "{{- ' ' + message['content'] + eos_token }}",
  '{%- else %}',
  "{{- '[TOOL_RESULTS] {\"content\": ' + (message['content'] | tojson) + ', \"call_id\": ' + (message['tool_call_id'] | tojson) + '}[/TOOL_RESULTS]' }}",
  '{%- endif %}',
  '{%- set ns.previous = role %}',
  '{%- endfor %}',
].join('\n');
