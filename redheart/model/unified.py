"""The unified Red Heart model: backbone -> heads -> analyzers -> auxiliary modules.

`forward(token_states[B,T,input_dim], mask[B,T]) -> dict` of named outputs:

| key | shape | meaning |
|---|---|---|
| emotion_logits | [B,7] | final Ekman logits (anger, disgust, fear, joy, sadness, |
| | | surprise, neutral) |
| sentiment_logits | [B,4] | positive, negative, ambiguous, neutral |
| fine_logits | [B,28] | GoEmotions' 28 labels (multi-label logits) |
| cultural | [B,3] | jeong, han, chemyeon intensities in (0,1) |
| moe_aux_loss | [] | load-balance loss of the emotion experts (1 when uniform) |
| moe_router_probs | [B,E] | router probabilities of the emotion experts |
| bentham_dims | [B,7] | intensity, duration, certainty, propinquity, fecundity, purity, |
| | | extent, each in (0,1) |
| hedonic_value | [B] | in (-1,1) |
| bentham_ethics_gate | [B,4] | weights of the utilitarian, deontological, virtue, care experts |
| regret | [B] | in (0,1) |
| regret_views | [B,3] | 10/50/90% quantiles of regret, ascending |
| surd | [B,4] | redundant, unique, synergistic, leak shares, summing to 1 |
| emotion_uncertainty | [B,7] | Kalman posterior variance (kalman_filter only): internal to the |
| | | fusion, in no loss, so not a calibrated uncertainty and not a prediction |
| head/<key>, analyzer/<key> | as above | the head-only and analyzer-only predictions of each |
| | | task whose analyzer is built, for deep supervision |
"""

from __future__ import annotations

import torch
from torch import nn

from redheart.config import ModelConfig
from redheart.model.analyzer import Analyzer
from redheart.model.backbone import Backbone
from redheart.model.bentham_head import BenthamHead
from redheart.model.catalog import ANALYZER_OF_TASK, BACKBONE_PARTS, ExecutionMode
from redheart.model.decode import decode
from redheart.model.dsp import DspSimulator
from redheart.model.emotion_head import EmotionHead
from redheart.model.kalman import KalmanFilter
from redheart.model.layers import init_weights
from redheart.model.regret_head import RegretHead
from redheart.model.selection import enabled_modules
from redheart.model.surd_head import SurdHead
from redheart.model.utilities import Utilities
from redheart.tasks import TASKS

_HEADS = {"emotion": EmotionHead, "bentham": BenthamHead, "regret": RegretHead,
          "surd": SurdHead}
_ANALYZER_BLOCKS = {"emotion": "emotion_analyzer_blocks",
                    "bentham": "bentham_calculator_blocks",
                    "regret": "regret_analyzer_blocks", "surd": "surd_analyzer_blocks"}


class UnifiedModel(nn.Module):
    """Built from one ModelConfig; a module not enabled is not instantiated.

    Attribute names are the catalogue's module names, so parameter names
    (`regret_analyzer.blocks.3...`) tell the planner and the console which
    module owns them.
    """

    def __init__(self, cfg: ModelConfig, mode: ExecutionMode = ExecutionMode.TRAINING) -> None:
        super().__init__()
        self.config = cfg
        self.mode = mode
        self.enabled = enabled_modules(cfg, mode)
        on = set(self.enabled)
        self.backbone = Backbone(cfg)
        for task, head in _HEADS.items():
            setattr(self, f"{task}_head", head(cfg))
        for task, name in ANALYZER_OF_TASK.items():
            if name in on:
                emotion = task == "emotion"
                setattr(self, name, Analyzer(
                    task, cfg.d_model, cfg.analyzer_ffn_dim, getattr(cfg, _ANALYZER_BLOCKS[task]),
                    cfg.dropout, extra_dim=cfg.d_model if emotion and "dsp_simulator" in on else 0,
                    gated=not (emotion and "kalman_filter" in on)))
        self.dsp_simulator = DspSimulator(cfg) if "dsp_simulator" in on else None
        self.kalman_filter = KalmanFilter(cfg) if "kalman_filter" in on else None
        self.utilities = Utilities(cfg) if "utilities" in on else None
        init_weights(self)

    def analyzer(self, task: str) -> Analyzer | None:
        return getattr(self, ANALYZER_OF_TASK[task], None)

    def forward(self, token_states: torch.Tensor, mask: torch.Tensor) -> dict[str, torch.Tensor]:
        mask = mask.bool()
        states, vectors = self.backbone(token_states, mask)
        if self.utilities is not None:
            vectors = self.utilities.fuse(vectors)
        outputs: dict[str, torch.Tensor] = {}
        for task in TASKS:
            head = getattr(self, f"{task}_head")(vectors[task])
            outputs.update(head.extras)
            final = head.raw
            analyzer = self.analyzer(task)
            if analyzer is not None:
                extra = None
                if task == "emotion" and self.dsp_simulator is not None:
                    extra = self.dsp_simulator(states, mask)
                refined = analyzer(vectors[task], head, extra)
                if refined.fused is not None:
                    final = refined.fused
                else:  # the emotion analyzer when the Kalman filter fuses
                    final, variance = self.kalman_filter(head.raw, refined.raw, head.hidden,
                                                         refined.hidden)
                    outputs["emotion_uncertainty"] = variance
                outputs.update({f"head/{k}": v for k, v in decode(task, head.raw).items()})
                outputs.update({f"analyzer/{k}": v for k, v in decode(task, refined.raw).items()})
            outputs.update(decode(task, final))
        return outputs

    def module_params(self) -> dict[str, int]:
        """Parameter count per catalogue name (backbone split into its parts)."""
        counts: dict[str, int] = {}
        for part in BACKBONE_PARTS:
            attr = part.name.split(".", 1)[1]
            counts[part.name] = _count(getattr(self.backbone, attr))
        for name in self.enabled:
            counts[name] = _count(getattr(self, name))
        return counts

    def combine_task_losses(self, losses: dict[str, torch.Tensor]) -> torch.Tensor:
        """Uncertainty-weighted sum of task losses; requires the utilities module."""
        if self.utilities is None:
            raise RuntimeError("uncertainty weighting needs the 'utilities' module")
        return self.utilities.combine(losses)


def _count(module: nn.Module) -> int:
    return sum(p.numel() for p in module.parameters())
