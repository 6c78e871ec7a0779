"""A tiny Llama built locally: random weights, a BPE tokenizer trained in-process, a Llama-3 chat template.

It stands in for a real base model wherever no hub is reachable (tests, the quickstart):
every stage that takes a model folder (finetune, merge, serve, bench) runs on it for real.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from pathlib import Path

from spec_tod.models.chat_template import LLAMA3_CHAT_TEMPLATE, LLAMA3_SPECIAL_TOKENS

LLAMA3_SPLIT_PATTERN = (
    r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|"
    r"\s*[\r\n]+|\s+(?!\S)|\s+"
)
"""Llama 3's pre-tokenizer split pattern (Meta's tokenizer, facts only)."""

# Enough variety for BPE to reach a few thousand merges even when the caller passes little text.
_FALLBACK_TEXT = (
    "i would like a cheap restaurant in the west part of town . what type of food would you like ?",
    'Action: {"[restaurant]": {"[inform]": ["area", "choice"]}} there are [value_choice] places .',
    '<function_call>{"function": "find_book_restaurant", "arguments": {"area": "west"}}</function_call>',
    "There are 3 entities match. Do not need to call function. thank you , goodbye .",
    "0123456789 abcdefghijklmnopqrstuvwxyz ABCDEFGHIJKLMNOPQRSTUVWXYZ {}[]():;,.!?'\"-_/&",
)


def record_texts(files: Iterable[str | Path]) -> list[str]:
    """Every message text of build-data's ShareGPT record files: the text a tiny model's tokenizer is trained on."""
    texts: list[str] = []
    for file in files:
        with open(file, encoding="utf-8") as lines:
            texts.extend(turn["value"] for line in lines for turn in json.loads(line)["conversations"])
    return texts


def build_tiny_model(
    out_dir: str | Path,
    texts: Iterable[str] = (),
    *,
    vocab_size: int = 2048,
    hidden_size: int = 64,
    num_layers: int = 2,
    num_heads: int = 4,
    num_kv_heads: int = 2,
    max_positions: int = 8192,
    seed: int = 0,
) -> Path:
    """Write a tiny Llama-3-style causal LM (``config.json``, safetensors, tokenizer, chat template) to ``out_dir``.

    ``texts`` trains the tokenizer (dialogue text gives realistic token counts); the
    weights are random but seeded, so the same call writes the same model.
    """
    import torch
    from tokenizers import Regex, Tokenizer, decoders, models, pre_tokenizers, processors, trainers
    from transformers import LlamaConfig, LlamaForCausalLM, PreTrainedTokenizerFast

    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)

    bpe = Tokenizer(models.BPE())
    # Llama 3's pre-tokenization: runs of newlines are one piece whatever follows, so a prompt that
    # ends after "\n\n" splits there exactly as the training text does.
    bpe.pre_tokenizer = pre_tokenizers.Sequence(
        [
            pre_tokenizers.Split(Regex(LLAMA3_SPLIT_PATTERN), behavior="isolated"),
            pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False),
        ]
    )
    bpe.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size,
        special_tokens=list(LLAMA3_SPECIAL_TOKENS),
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    bpe.train_from_iterator([*_FALLBACK_TEXT, *texts], trainer=trainer)
    # Like Llama 3's tokenizer, plain encoding adds the BOS token (servers then see one more BOS
    # than a rendered chat template holds, unless the client removes it).
    bos = LLAMA3_SPECIAL_TOKENS[0]
    bpe.post_processor = processors.TemplateProcessing(
        single=f"{bos} $A", pair=f"{bos} $A $B", special_tokens=[(bos, bpe.token_to_id(bos))]
    )
    tokenizer = PreTrainedTokenizerFast(
        tokenizer_object=bpe,
        bos_token="<|begin_of_text|>",
        eos_token="<|eot_id|>",
        pad_token="<|pad|>",
    )
    tokenizer.chat_template = LLAMA3_CHAT_TEMPLATE
    tokenizer.save_pretrained(out_dir)

    config = LlamaConfig(
        vocab_size=len(tokenizer),
        hidden_size=hidden_size,
        intermediate_size=2 * hidden_size,
        num_hidden_layers=num_layers,
        num_attention_heads=num_heads,
        num_key_value_heads=num_kv_heads,
        max_position_embeddings=max_positions,
        tie_word_embeddings=False,
        bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id,
    )
    torch.manual_seed(seed)
    model = LlamaForCausalLM(config)
    model.generation_config.do_sample = False
    model.save_pretrained(out_dir, safe_serialization=True)
    return out_dir
