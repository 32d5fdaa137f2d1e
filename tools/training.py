"""What the training scripts share: their command line, clip folds and missing values."""

from __future__ import annotations

import argparse
from collections.abc import Iterator

import numpy as np

from analysis.model import MISSING
from tools.dataset import Clip


def parse_args(description: str | None, argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--save", action="store_true", help="train on all clips and ship it")
    parser.add_argument("--folds", type=int, default=5, help="folds of clips for held-out scores")
    return parser.parse_args(argv)


def clip_folds(clips: list[Clip], folds: int) -> Iterator[tuple[list[Clip], list[Clip]]]:
    """(train, test) splits by clip: no clip is scored by a model that saw it."""
    for k in range(folds):
        test = [c for i, c in enumerate(clips) if i % folds == k]
        yield [c for c in clips if c not in test], test


def with_missing(x: np.ndarray) -> np.ndarray:
    """Features as the models take them: NaN replaced by the sentinel the trees were fit on."""
    return np.where(np.isnan(x), MISSING, x)
