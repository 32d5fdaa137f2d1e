"""Loads the labelled AI CUP 2023 rally clips (videos, strokes, shuttle tracks, court corners)."""

from __future__ import annotations

import csv
import json
import os
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

import numpy as np

REPO_ROOT = Path(__file__).resolve().parents[1]

# BallType codes of the stroke labels (see the data README).
BALL_TYPES = {
    1: "short_serve",
    2: "long_serve",
    3: "clear",
    4: "drive",
    5: "smash",
    6: "net_shot",
    7: "drop",
    8: "lift",
    9: "push",
}


def data_dir() -> Path:
    """The shared labelled data: $BADMINTON_DATA, else ../shared/data beside the repository."""
    return Path(os.environ.get("BADMINTON_DATA", REPO_ROOT.parent / "shared" / "data")).resolve()


@dataclass(frozen=True)
class Stroke:
    frame: int
    player: str  # "near" | "far"
    type: str
    hitter_px: tuple[float, float]
    defender_px: tuple[float, float]


@dataclass(frozen=True)
class Clip:
    """One labelled rally clip."""

    name: str
    root: Path

    @property
    def video(self) -> Path:
        return self.root / "videos" / f"{self.name}.mp4"

    @cached_property
    def corners(self) -> dict[str, list[float]]:
        return json.loads((self.root / "court_corners.json").read_text())[self.name]

    @cached_property
    def strokes(self) -> list[Stroke]:
        return read_strokes(self.root / "stroke_labels" / f"{self.name}_S2.csv")

    @cached_property
    def shuttle(self) -> np.ndarray:
        """(frames, 3) array of visible, x, y in pixels (x, y are NaN where not visible)."""
        return read_shuttle(self.root / "shuttle_labels" / f"{self.name}_ball.csv")


def aicup_clips(root: Path | None = None) -> list[Clip]:
    root = (root or data_dir()) / "aicup2023_rallies"
    names = sorted(p.stem for p in (root / "videos").glob("*.mp4"))
    return [Clip(name, root) for name in names]


def _clean_rows(path: Path) -> list[dict[str, str]]:
    with path.open(newline="") as fh:
        rows = list(csv.reader(fh))
    header = [h.strip() for h in rows[0]]
    return [
        {key: cell.strip() for key, cell in zip(header, row)}
        for row in rows[1:]
        if any(cell.strip() for cell in row)
    ]


def read_strokes(path: Path) -> list[Stroke]:
    strokes = []
    for row in _clean_rows(path):
        hitter = (float(row["HitterLocationX"]), float(row["HitterLocationY"]))
        defender = (float(row["DefenderLocationX"]), float(row["DefenderLocationY"]))
        strokes.append(
            Stroke(
                frame=int(row["HitFrame"]),
                # The near-court player stands lower in the image (larger y).
                player="near" if hitter[1] > defender[1] else "far",
                type=BALL_TYPES[int(row["BallType"])],
                hitter_px=hitter,
                defender_px=defender,
            )
        )
    return strokes


def read_shuttle(path: Path, width: int = 1280, height: int = 720) -> np.ndarray:
    rows = _clean_rows(path)
    out = np.full((len(rows), 3), np.nan)
    for row in rows:
        i = int(row["Frame"])
        visible = int(float(row["Ball"])) == 1
        out[i, 0] = 1.0 if visible else 0.0
        if visible:
            out[i, 1] = float(row["x"]) * width
            out[i, 2] = float(row["y"]) * height
    return out
