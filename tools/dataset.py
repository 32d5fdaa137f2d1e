"""The labelled footage in the shared data folder, one `Clip` per video.

Sources (see the data folder's README):
- `aicup`: 20 AI CUP 2023 rallies with strokes, shuttle and court corners (the dev set);
- `aicup_val`: 9 more rallies of the same matches, shuttle only;
- `allengland`: 3 rallies of another tournament (MPEG-4), shuttle only;
- `amateur`: 6 clips of a dark amateur hall at ~119 fps, 2048x1536, shuttle only;
- `denmark`: 2 ShuttleSet rallies of Denmark Open 2019 (25 fps, MPEG-4) with strokes, shuttle
  and corners: a venue and camera no model is trained on.

Every clip names its match: clips of one match share players, hall and camera, so they are
held out together.
"""

from __future__ import annotations

import csv
import json
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

REPO_ROOT = Path(__file__).resolve().parents[1]

# BallType codes of the AI CUP stroke labels (see the data README).
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

# The match of each AI CUP rally, read off the scoreboard (data README).
AICUP_MATCHES = {
    "intanon-chen": ("00001", "00029"),
    "yamaguchi-an": ("00002",),
    "antonsen-nishimoto": ("00004",),
    "shi-naraoka": ("00008", "00025"),
    "axelsen-naraoka": ("00009", "00022", "00039"),
    "axelsen-ginting": ("00010", "00011", "00023", "00041"),
    "chen-tai": ("00017",),
    "lee-shi": ("00027", "00035"),
    "marin-he": ("00030", "00038"),
    "axelsen-lee": ("00042", "00047"),
}
# The validation rallies' matches, named as the dev set's; Tai Tzu Ying's opponent is not
# shown, so that rally goes with her only dev match to be safe.
AICUP_VAL_MATCHES = {
    "lee-shi": ("00003", "00012", "00013"),
    "axelsen-naraoka": ("00004", "00007"),
    "intanon-chen": ("00005", "00006"),
    "yamaguchi-an": ("00009",),
    "chen-tai": ("00011",),
}

# ShuttleSet's stroke names (Chinese) as the 9 types of the AI CUP labels; "unknown" strokes
# are left out.
SHUTTLESET_TYPES = {
    "發短球": "short_serve",
    "發長球": "long_serve",
    "長球": "clear",
    "平球": "drive",
    "小平球": "drive",
    "後場抽平球": "drive",
    "防守回抽": "drive",
    "殺球": "smash",
    "點扣": "smash",
    "放小球": "net_shot",
    "擋小球": "net_shot",
    "勾球": "net_shot",
    "切球": "drop",
    "過渡切球": "drop",
    "過度切球": "drop",
    "挑球": "lift",
    "防守回挑": "lift",
    "推球": "push",
    "撲球": "push",
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


@dataclass(frozen=True, eq=False)
class Clip:
    """One labelled video."""

    name: str  # unique within its source
    source: str
    match: str  # clips of one match are held out together
    video: Path
    shuttle: np.ndarray  # (frames, 3): visible, x, y in pixels (x, y NaN where not visible)
    corners: dict[str, list[float]] | None = None  # the 4 outer doubles corners
    strokes: tuple[Stroke, ...] = ()
    labelled_strokes: bool = False  # whether `strokes` is the complete stroke list
    label_files: tuple[Path, ...] = ()  # the files the labels were read from

    @property
    def key(self) -> str:
        """Unique across sources."""
        return f"{self.source}/{self.name}"

    @property
    def hit_frames(self) -> tuple[int, ...]:
        return tuple(s.frame for s in self.strokes)

    def files(self) -> list[Path]:
        """The video and every label file of this clip (for content hashes)."""
        return [self.video, *self.label_files]


def aicup_clips(root: Path | None = None) -> list[Clip]:
    """The 20 dev rallies with strokes, shuttle and corners."""
    folder = (root or data_dir()) / "aicup2023_rallies"
    match_of = {name: match for match, names in AICUP_MATCHES.items() for name in names}
    corners_file = folder / "court_corners.json"
    corners = json.loads(corners_file.read_text()) if corners_file.exists() else {}
    clips = []
    for video in sorted((folder / "videos").glob("*.mp4")):
        name = video.stem
        strokes_file = folder / "stroke_labels" / f"{name}_S2.csv"
        shuttle_file = folder / "shuttle_labels" / f"{name}_ball.csv"
        clips.append(
            Clip(
                label_files=(strokes_file, shuttle_file, corners_file),
                name=name,
                source="aicup",
                match=match_of.get(name, f"aicup-{name}"),
                video=video,
                shuttle=read_normalised_shuttle(shuttle_file),
                corners=corners.get(name),
                strokes=tuple(read_strokes(strokes_file)),
                labelled_strokes=True,
            )
        )
    return clips


def aicup_val_clips(root: Path | None = None) -> list[Clip]:
    folder = (root or data_dir()) / "aicup2023_val_shuttle"
    match_of = {name: match for match, names in AICUP_VAL_MATCHES.items() for name in names}
    clips = []
    for video in sorted((folder / "videos").glob("*.mp4")):
        labels = folder / "shuttle_labels" / f"{video.stem}_ball.csv"
        clips.append(
            Clip(
                label_files=(labels,),
                name=video.stem,
                source="aicup_val",
                match=match_of.get(video.stem, f"aicup_val-{video.stem}"),
                video=video,
                shuttle=read_normalised_shuttle(labels),
            )
        )
    return clips


def allengland_clips(root: Path | None = None) -> list[Clip]:
    folder = (root or data_dir()) / "tracknet_allengland"
    return _tracknet_clips(folder, "allengland", "allengland-tai-yamaguchi")


def amateur_clips(root: Path | None = None) -> list[Clip]:
    folder = (root or data_dir()) / "amateur_highspeed"
    return _tracknet_clips(folder, "amateur", "amateur-hall")


def _tracknet_clips(folder: Path, source: str, match: str) -> list[Clip]:
    """Videos beside TrackNet-style `NAME_ball.csv` labels, all of one match."""
    return [
        Clip(
            label_files=(labels,),
            name=labels.name.removesuffix("_ball.csv"),
            source=source,
            match=match,
            video=labels.with_name(labels.name.replace("_ball.csv", ".mp4")),
            shuttle=read_pixel_shuttle(labels),
        )
        for labels in sorted(folder.glob("*_ball.csv"))
    ]


def denmark_clips(root: Path | None = None) -> list[Clip]:
    """ShuttleSet's two Denmark Open 2019 rallies: clip frame i is the set's frame Start + i."""
    folder = (root or data_dir()) / "shuttleset_denmark2019"
    homography = folder / "homography_matrix.csv"
    segments = folder / "RallySeg.csv"
    strokes_file = folder / "set1.csv"
    if not homography.exists():
        return []
    with homography.open(newline="") as fh:
        row = next(r for r in csv.DictReader(fh) if r["id"] == "29")
    corners = {
        name: [float(row[f"{key}_x"]), float(row[f"{key}_y"])]
        for name, key in zip(
            ("far_left", "far_right", "near_right", "near_left"),
            ("upleft", "upright", "downright", "downleft"),
        )
    }
    with segments.open(newline="") as fh:
        starts = {r["Score"]: (int(r["Start"]), int(r["End"])) for r in csv.DictReader(fh)}
    with strokes_file.open(newline="", encoding="utf-8") as fh:
        stroke_rows = list(csv.DictReader(fh))
    clips = []
    for name in ("1_00_01", "1_01_01"):
        start, end = starts[name]
        shuttle_file = folder / f"set_{name}.csv"
        shuttle = read_pixel_shuttle(shuttle_file, first_frame=start)
        strokes = []
        for r in stroke_rows:
            frame = int(float(r["frame_num"]))
            if not start <= frame <= end or r["type"] not in SHUTTLESET_TYPES:
                continue
            hitter = (float(r["player_location_x"]), float(r["player_location_y"]))
            defender = (float(r["opponent_location_x"]), float(r["opponent_location_y"]))
            strokes.append(
                Stroke(
                    frame - start,
                    "near" if hitter[1] > defender[1] else "far",
                    SHUTTLESET_TYPES[r["type"]],
                    hitter,
                    defender,
                )
            )
        clips.append(
            Clip(
                label_files=(shuttle_file, strokes_file, segments, homography),
                name=name,
                source="denmark",
                match="denmark-chen-chou",
                video=folder / f"{name}.mp4",
                shuttle=shuttle,
                corners=corners,
                strokes=tuple(strokes),
                labelled_strokes=True,
            )
        )
    return clips


def shuttle_sources(root: Path | None = None) -> dict[str, list[Clip]]:
    """Every clip with per-frame shuttle labels, by source."""
    return {
        "aicup": aicup_clips(root),
        "aicup_val": aicup_val_clips(root),
        "allengland": allengland_clips(root),
        "amateur": amateur_clips(root),
        "denmark": denmark_clips(root),
    }


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


def read_normalised_shuttle(path: Path, width: int = 1280, height: int = 720) -> np.ndarray:
    """AI CUP labels (`Frame, Ball, x, y`, x and y 0..1) as (frames, 3) pixels."""
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


def read_pixel_shuttle(path: Path, first_frame: int = 0) -> np.ndarray:
    """TrackNet-style labels (`Frame, Visibility, X, Y, ...` in pixels) as (frames, 3)."""
    rows = _clean_rows(path)
    frames = [int(r["Frame"]) - first_frame for r in rows]
    out = np.full((max(frames) + 1, 3), np.nan)
    out[:, 0] = 0.0
    for i, row in zip(frames, rows):
        if i >= 0 and int(float(row["Visibility"])) == 1:
            out[i] = (1.0, float(row["X"]), float(row["Y"]))
    return out
