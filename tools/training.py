"""What the training scripts share: their command line, clip folds, input rates and missing
values."""

from __future__ import annotations

import argparse
from collections.abc import Iterator

import numpy as np

from analysis.model import MISSING
from tools.dataset import Clip

# An input rate: None for every frame of the file, else a live stream's frames per second.
Rate = float | None
TRAIN_RATES: tuple[Rate, ...] = (None, 15.0, 10.0)


def parse_rates(text: str) -> tuple[Rate, ...]:
    """Rates from the command line: "file,15,10" -> (None, 15.0, 10.0)."""
    return tuple(None if r == "file" else float(r) for r in text.split(",") if r)


def rate_name(rate: Rate) -> str:
    return "file" if rate is None else f"{rate:g} fps"


def parse_args(description: str | None, argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--save", action="store_true", help="train on all clips and ship it")
    parser.add_argument("--folds", type=int, default=5, help="folds of clips for held-out scores")
    default = ",".join("file" if r is None else f"{r:g}" for r in TRAIN_RATES)
    parser.add_argument(
        "--rates",
        type=parse_rates,
        default=TRAIN_RATES,
        help=f"input rates to train on: 'file' and stream frames a second (default {default})",
    )
    parser.add_argument(
        "--test-rates",
        type=parse_rates,
        default=TRAIN_RATES,
        help="input rates to print held-out scores for",
    )
    return parser.parse_args(argv)


def clip_folds(clips: list[Clip], folds: int) -> Iterator[tuple[list[Clip], list[Clip]]]:
    """(train, test) splits by clip: no clip is scored by a model that saw it."""
    for k in range(folds):
        test = [c for i, c in enumerate(clips) if i % folds == k]
        yield [c for c in clips if c not in test], test


def with_missing(x: np.ndarray) -> np.ndarray:
    """Features as the models take them: NaN replaced by the sentinel the trees were fit on."""
    return np.where(np.isnan(x), MISSING, x)
