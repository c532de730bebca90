"""Growth benchmark: does a grown model learn faster than the same model from scratch?

On the real data sets (../shared/data, the cpu-real profile's sources):

1. train a SMALL model for --small-steps and record its final validation loss;
2. grow it 4x (`grow_state_dict`, paired noise) and print the exactness: max |delta|
   of every output on real validation batches, and the validation loss before and
   after growing;
3. train the grown model and the same large model from scratch with the same
   schedule (fresh AdamW, warmup, cosine), evaluating every --eval-every steps;
   --grown-lr gives the grown run its own peak LR (a continuation of an annealed
   model loses its annealing gain at the from-scratch peak LR; see README);
4. print the steps each needs to reach the small model's final validation loss,
   and their ratio (the goal: the grown model needs at most half).

Training is Trainer.train_step and validation Trainer.evaluate (the engine's
own code); the loop around them only adds the periodic evaluation that
Trainer.fit does per epoch. Sized for a 2-core CPU: the SMALL model is the
quickstart model at half width (1.3M parameters), the grown and the scratch
model are the quickstart width (5.0M); token states are cut to --max-tokens.

    .venv/bin/python bench/grow.py [--small-steps 600] [--steps 600] [--eval-every 50]
        [--grown-lr 2.5e-4] [--small-weights small.safetensors]
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
import time
from pathlib import Path

import torch
from safetensors.torch import load_file, save_file

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from redheart.config import Config, DataSource, ModelConfig  # noqa: E402
from redheart.config_load import load_profile  # noqa: E402
from redheart.data.batching import BatchPlan, featurizer_of, loader, source_lengths  # noqa: E402
from redheart.data.encode import EncoderCache, SourceFeaturizers  # noqa: E402
from redheart.data.sources import anchor_paths  # noqa: E402
from redheart.data.training_data import training_data  # noqa: E402
from redheart.model.grow.hyperclone import grow_state_dict  # noqa: E402
from redheart.model.grow.verify import output_deltas  # noqa: E402
from redheart.train.trainer import Trainer  # noqa: E402

PROFILE = ROOT / "profiles" / "cpu-real.toml"
SMALL = ModelConfig(
    d_model=64, n_layers=2, n_heads=2, ffn_dim=256, task_proj_dim=48, adapter_dim=32,
    pool_dim=32, emotion_base_dim=128, moe_expert_dim=112, emotion_level_dim=64,
    cultural_dim=32, bentham_expert_dim=256, regret_trunk_dim=128, regret_view_dim=352,
    surd_component_dim=224, analyzer_ffn_dim=256, emotion_analyzer_blocks=3,
    bentham_calculator_blocks=3, regret_analyzer_blocks=3, surd_analyzer_blocks=2,
    dsp_channels=8, dsp_filters=16, dsp_kernel=7, dsp_bands=8, dsp_hidden=256,
    kalman_dim=128, fusion_layers=1,
)
"""The quickstart model at half width; grown 2x it is the quickstart model (head_dim 32)."""


class FirstTokens:
    """The encoder caches' states cut to the first `limit` tokens (CPU time)."""

    def __init__(self, cache: EncoderCache | SourceFeaturizers, limit: int) -> None:
        self.cache, self.limit = cache, limit

    def for_source(self, source: DataSource) -> FirstTokens:
        """The cut states of `source`'s own cache (its max_tokens and truncation)."""
        return FirstTokens(featurizer_of(self.cache, source), self.limit)

    def features(self, texts: list[str]) -> tuple[torch.Tensor, torch.Tensor]:
        states, mask = self.cache.features(texts)
        return states[:, :self.limit].contiguous(), mask[:, :self.limit].contiguous()

    def length(self, text: str) -> int:
        return min(self.cache.length(text), self.limit)


def bench_config(args: argparse.Namespace, model: ModelConfig, steps: int,
                 lr: float) -> Config:
    base = load_profile(PROFILE)
    return dataclasses.replace(
        base, model=model,
        train=dataclasses.replace(base.train, max_steps=steps, lr=lr,
                                  warmup_steps=args.warmup, batch_size=args.batch_size),
        run=dataclasses.replace(base.run, seed=args.seed))


def train_with_evals(trainer: Trainer, every: int, target: float | None,
                     label: str) -> list[tuple[int, float]]:
    """(step, validation loss) every `every` steps; stops once `target` is reached."""
    curve = [(0, trainer.evaluate()["loss"])]
    start, epoch = time.perf_counter(), 0
    while trainer.state.step < trainer.total_steps:
        for batch in loader(trainer.train_sources, trainer.featurizer, trainer.plan.epoch(epoch)):
            trainer.train_step(batch)
            step = trainer.state.step
            if step % every == 0 or step == trainer.total_steps:
                curve.append((step, trainer.evaluate()["loss"]))
                print(f"  {label:8s} step {step:5d}  val loss {curve[-1][1]:.4f}  "
                      f"({time.perf_counter() - start:.0f} s)", flush=True)
                if target is not None and curve[-1][1] <= target:
                    return curve
            if step >= trainer.total_steps:
                break
        epoch += 1
    return curve


def steps_to_reach(curve: list[tuple[int, float]], target: float) -> int | None:
    """First evaluated step after 0 whose validation loss is <= target."""
    return next((step for step, loss in curve[1:] if loss <= target), None)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--small-steps", type=int, default=600)
    parser.add_argument("--steps", type=int, default=600,
                        help="schedule length of the grown and the scratch run")
    parser.add_argument("--eval-every", type=int, default=50)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--lr", type=float, default=1e-3,
                        help="peak LR of the small and the scratch run")
    parser.add_argument("--grown-lr", type=float, default=None,
                        help="peak LR of the grown run (default: --lr, the same schedule)")
    parser.add_argument("--warmup", type=int, default=50)
    parser.add_argument("--max-tokens", type=int, default=64)
    parser.add_argument("--val-rows", type=int, default=300,
                        help="validation rows (or dilemma pairs) kept per source: CPU time")
    parser.add_argument("--noise-db", type=float, default=20.0)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--small-weights", type=Path, default=None,
                        help="safetensors file: load the trained small model from it if it "
                             "exists (skipping its training), else save it there")
    args = parser.parse_args()

    grown_lr = args.lr if args.grown_lr is None else args.grown_lr
    small_cfg = anchor_paths(bench_config(args, SMALL, args.small_steps, args.lr),
                             PROFILE.parent)
    data = training_data(small_cfg, PROFILE.parent)
    train = data.train
    held_out = [dataclasses.replace(s, examples=s.examples[:args.val_rows],
                                    pairs=s.pairs[:args.val_rows]) for s in data.dev]
    featurizer = FirstTokens(data.featurizer, args.max_tokens)
    print(f"data: {sum(len(s.examples) + len(s.pairs) for s in train)} training rows, "
          f"{sum(len(s.examples) + len(s.pairs) for s in held_out)} validation rows; "
          f"first {args.max_tokens} tokens; batch {args.batch_size}; peak lr {args.lr:g} "
          f"(grown run: {grown_lr:g}), warmup {args.warmup}, cosine; torch threads "
          f"{torch.get_num_threads()}")

    small = Trainer(small_cfg, train, held_out, featurizer)
    n_small = sum(p.numel() for p in small.model.parameters())
    print(f"small model: {n_small / 1e6:.2f}M parameters, {args.small_steps} steps")
    if args.small_weights is not None and args.small_weights.is_file():
        small.model.load_state_dict(load_file(str(args.small_weights)))
        target = small.evaluate()["loss"]
        print(f"small model loaded from {args.small_weights}")
    else:
        target = train_with_evals(small, args.eval_every, None, "small")[-1][1]
        if args.small_weights is not None:
            save_file(small.model.state_dict(), str(args.small_weights))
    print(f"small final validation loss: {target:.4f}")

    big_model, state = grow_state_dict(small.model, 4, snr_db=args.noise_db, seed=args.seed)
    big_cfg = dataclasses.replace(bench_config(args, big_model, args.steps, args.lr),
                                  data=small_cfg.data)
    grown_cfg = dataclasses.replace(big_cfg, train=dataclasses.replace(big_cfg.train,
                                                                       lr=grown_lr))
    grown = Trainer(grown_cfg, train, held_out, featurizer)
    grown.model.load_state_dict(state)
    n_big = sum(p.numel() for p in grown.model.parameters())
    plan = BatchPlan(source_lengths(held_out, featurizer), [1.0] * len(held_out),
                     args.batch_size, 0).every_row_once()
    batches = [(b.inputs, b.mask) for b in loader(held_out, featurizer, plan)]
    deltas = output_deltas(small.model, grown.model, batches)
    worst = max(deltas, key=deltas.__getitem__)
    grown_start = grown.evaluate()["loss"]
    print(f"grown model: {n_big / 1e6:.2f}M parameters ({n_big / n_small:.2f}x), noise "
          f"{args.noise_db:g} dB")
    print(f"exactness on {len(batches)} validation batches (fp32, eval mode): max |delta| "
          f"{deltas[worst]:.3g} ({worst}) over {len(deltas)} outputs")
    print(f"validation loss: small {target:.6f}, grown before training {grown_start:.6f} "
          f"(|delta| {abs(grown_start - target):.2g})")

    print(f"training the grown model ({args.steps}-step schedule, stops at the target)")
    grown_curve = train_with_evals(grown, args.eval_every, target, "grown")
    scratch = Trainer(big_cfg, train, held_out, featurizer)
    print(f"training the same model from scratch ({args.steps}-step schedule, stops at the "
          f"target)")
    scratch_curve = train_with_evals(scratch, args.eval_every, target, "scratch")

    print(f"\nsteps to reach the small model's final validation loss {target:.4f} "
          f"(evaluated every {args.eval_every} steps):")
    reached = {}
    for label, curve in (("grown", grown_curve), ("scratch", scratch_curve)):
        reached[label] = steps_to_reach(curve, target)
        shown = reached[label] if reached[label] is not None else f"> {args.steps} (not reached)"
        print(f"  {label:8s} {shown}   (last val loss {curve[-1][1]:.4f} at step "
              f"{curve[-1][0]})")
    if reached["grown"] is not None:
        bound = reached["scratch"] if reached["scratch"] is not None else args.steps
        sign = "" if reached["scratch"] is not None else "< "
        ratio = reached["grown"] / bound
        print(f"  ratio grown / scratch: {sign}{ratio:.2f} (goal <= 0.5: "
              f"{'met' if ratio <= 0.5 else 'NOT met'})")


if __name__ == "__main__":
    main()
