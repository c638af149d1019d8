"""A character-level tokenizer for the toy world, in Hugging Face format.

One token per character: newline and printable ASCII, plus four special tokens. The model
is BPE with no merges and no normalizer or pre-tokenizer, and the decoder fuses tokens as
they are, so every character (spaces and newlines included) round-trips exactly in
transformers and in engines that detokenize through `tokenizer.json` (vLLM).
"""

from __future__ import annotations

from pathlib import Path

from tokenizers import Tokenizer, decoders, models
from transformers import PreTrainedTokenizerFast

SPECIAL_TOKENS = ("<pad>", "<s>", "</s>", "<unk>")
CHARACTERS = ("\n",) + tuple(chr(c) for c in range(32, 127))


def build_char_tokenizer() -> PreTrainedTokenizerFast:
    vocab = {token: i for i, token in enumerate(SPECIAL_TOKENS + CHARACTERS)}
    backend = Tokenizer(models.BPE(vocab=vocab, merges=[], unk_token="<unk>", fuse_unk=False))
    backend.decoder = decoders.Fuse()
    backend.add_special_tokens(list(SPECIAL_TOKENS))
    return PreTrainedTokenizerFast(
        tokenizer_object=backend, pad_token="<pad>", bos_token="<s>", eos_token="</s>", unk_token="<unk>"
    )


def save_char_tokenizer(directory: str | Path) -> PreTrainedTokenizerFast:
    tokenizer = build_char_tokenizer()
    tokenizer.save_pretrained(str(directory))
    return tokenizer
