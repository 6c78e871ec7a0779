"""The Llama-3 chat template, as a string for tokenizers that do not carry one.

Llama-3's own template renders any role name, which is what Spec-TOD's ``function`` and
``observation`` roles need; contents are trimmed as in the original. Source of the layout:
Meta's Llama-3-Instruct ``tokenizer_config.json`` (facts only).
"""

LLAMA3_CHAT_TEMPLATE = (
    "{{- bos_token }}"
    "{% for message in messages %}"
    "{{ '<|start_header_id|>' + message['role'] + '<|end_header_id|>\\n\\n' + message['content'] | trim + '<|eot_id|>' }}"
    "{% endfor %}"
    "{% if add_generation_prompt %}{{ '<|start_header_id|>assistant<|end_header_id|>\\n\\n' }}{% endif %}"
)

LLAMA3_SPECIAL_TOKENS = (
    "<|begin_of_text|>",
    "<|end_of_text|>",
    "<|start_header_id|>",
    "<|end_header_id|>",
    "<|eot_id|>",
    "<|pad|>",
)
