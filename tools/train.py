"""`make train`: rebuilds every shipped model from the shared data, with its provenance.

    python -m tools.train

1. The shuttle candidate scorer, from every shuttle-labelled source but the Denmark rallies;
   also one per match left out, which tracks that match's clips for what follows.
2. The hit and hitter models and how hits are picked, from the 20 dev rallies' tracks.
3. The shot-type models (`shots` once the next hit is known, `shots_open` at once).

Each file records the training data's hash, the code's hash and commit, the library
versions, the features, and its scores held out by match (nested: whatever is chosen is
chosen without the scored match). `tests/tools/test_provenance.py` checks that the shipped
files were made from the data and code there are now.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from functools import cache
from pathlib import Path

import numpy as np

from analysis.hit_features import FEATURE_NAMES as HIT_FEATURES
from analysis.model import MODELS_DIR
from analysis.shot_features import FEATURE_NAMES as SHOT_FEATURES
from analysis.shuttle_detect import FEATURE_NAMES as CANDIDATE_FEATURES
from tools import shuttle_eval, train_hits, train_shots
from tools.cache import code_digest, files_digest, library_versions
from tools.dataset import REPO_ROOT, aicup_clips, shuttle_sources
from tools.scoring import Counts
from tools.shuttle_train import fold_scorer, scorer_json, training_clips
from tools.training import TRAIN_RATES, live_pose_fps, rate_name

# Everything whose change changes what training makes.
TRAINING_CODE = (
    "analysis.blazepose",
    "analysis.camera",
    "analysis.court",
    "analysis.frame_rate",
    "analysis.hit_features",
    "analysis.hit_sequence",
    "analysis.model",
    "analysis.players",
    "analysis.pose",
    "analysis.sample_rate",
    "analysis.shot_features",
    "analysis.shots_model",
    "analysis.shuttle",
    "analysis.shuttle_detect",
    "analysis.shuttle_path",
    "analysis.trackers",
    "analysis.video",
    "tools.dataset",
    "tools.export_model",
    "tools.shuttle_train",
    "tools.track_cache",
    "tools.train",
    "tools.train_hits",
    "tools.train_shots",
    "tools.training",
)
TRAINING_LIBRARIES = ("scikit-learn", "scipy", "numpy")
FEATURES = {
    "shuttle_candidates": CANDIDATE_FEATURES,
    "hits": HIT_FEATURES,
    "hitter": HIT_FEATURES,
    "shots": SHOT_FEATURES,
    "shots_open": SHOT_FEATURES,
}


def training_files(root: Path | None = None) -> list[Path]:
    """Every file of the shared data that training reads."""
    clips = {c.key: c for c in training_clips(root) + aicup_clips(root)}
    return sorted({path for clip in clips.values() for path in clip.files()})


def data_digest(root: Path | None = None) -> str:
    return files_digest(training_files(root))


def training_code_digest() -> str:
    return code_digest(TRAINING_CODE)


def live_poses() -> dict[str, float]:
    """Poses per second a live stream was trained with, per stream rate (server settings)."""
    return {rate_name(r): live_pose_fps(r) for r in TRAIN_RATES if r is not None}


def provenance(features: tuple[str, ...], held_out: dict) -> dict:
    return {
        "made_by": "make train",
        "data_sha256": data_digest(),
        "data_files": len(training_files()),
        "code_sha256": training_code_digest(),
        "live_poses_per_second": live_poses(),
        "commit": _commit_at_start(),
        "libraries": library_versions((*TRAINING_LIBRARIES, "opencv-contrib-python", "av")),
        "features": list(features),
        "held_out": held_out,
    }


@cache
def _commit_at_start() -> str:
    """The commit trained from, read before any model file is rewritten."""
    return _commit()


def _commit() -> str:
    try:
        head = subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=REPO_ROOT, capture_output=True, text=True, check=True
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "status", "--porcelain"], cwd=REPO_ROOT, capture_output=True, text=True
        ).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"
    return f"{head} with uncommitted changes" if dirty else head


def write_model(name: str, data: dict) -> None:
    path = MODELS_DIR / f"{name}.json"
    path.write_text(json.dumps(data, separators=(",", ":")) + "\n")
    print(f"wrote {path.relative_to(REPO_ROOT)}", file=sys.stderr)


def train_shuttle() -> dict:
    """The shipped scorer and its held-out scores per source."""
    started = time.monotonic()
    scorer = fold_scorer(None)
    print("shuttle tracking, held out by match:")
    scores = shuttle_eval.source_table(shuttle_sources())
    n = len(training_clips())
    text = scorer_json(scorer, f"{n} clips of every shuttle-labelled source but Denmark")
    data = json.loads(text)
    data["provenance"] = provenance(CANDIDATE_FEATURES, scores)
    path = MODELS_DIR / "shuttle_candidates.json"
    lines = [f"  {json.dumps(k)}: {json.dumps(v)}" for k, v in data.items()]
    path.write_text("{\n" + ",\n".join(lines) + "\n}\n")
    print(f"shuttle done in {time.monotonic() - started:.0f} s", file=sys.stderr)
    return scores


def hit_scores(folds: list[train_hits.FoldResult]) -> dict:
    """Totals and the spread over folds, per rate, from nested held-out results."""
    out = {}
    for rate in TRAIN_RATES:
        entry = {}
        for tolerance in (3, 6):
            per_fold = [
                sum(
                    (c for (_, r, t), c in f.counts.items() if r == rate and t == tolerance),
                    Counts(0, 0, 0),
                )
                for f in folds
            ]
            total = sum(per_fold, Counts(0, 0, 0))
            f1s = [c.f1 for c in per_fold if c.tp + c.fn]
            entry[f"hits_{tolerance}"] = {
                **total.as_dict(),
                "fold_f1": {
                    "min": round(min(f1s), 3),
                    "median": round(float(np.median(f1s)), 3),
                    "max": round(max(f1s), 3),
                },
            }
        out[rate_name(rate)] = entry
    return out


def train_hit_models() -> dict:
    started = time.monotonic()
    clips = aicup_clips()
    data = train_hits.load_data(clips)
    folds = train_hits.nested_scores(clips, data)
    scores = hit_scores(folds)
    for rate, entry in scores.items():
        six, three = entry["hits_6"], entry["hits_3"]
        print(
            f"hits held out by match, {rate}: F1 {six['f1']:.3f} (+-6; folds "
            f"{six['fold_f1']['min']}-{six['fold_f1']['max']}), {three['f1']:.3f} (+-3)"
        )
    picker = train_hits.choose_picker(
        clips, data, train_hits.held_out_probas(clips, data, TRAIN_RATES), TRAIN_RATES
    )
    models = train_hits.export_both(train_hits.fit_both(clips, data))
    for name, model in zip(("hits", "hitter"), models):
        exported = model.to_json()
        if name == "hits":
            exported["picker"] = picker.to_json()
        exported["provenance"] = provenance(HIT_FEATURES, scores)
        write_model(name, exported)
    print(f"hits done in {time.monotonic() - started:.0f} s", file=sys.stderr)
    return scores


def train_shot_models() -> dict:
    started = time.monotonic()
    clips = aicup_clips()
    data = train_shots.load_data(clips)
    fits = train_shots.Fits(clips, data)
    held_out = train_shots.held_out_scores(clips, data, fits=fits)
    scores = {
        rate_name(r): {"final": s.final, "provisional": s.provisional} for r, s in held_out.items()
    }
    for rate, entry in scores.items():
        print(
            f"shot types held out by match, {rate}: {entry['final']['accuracy']:.3f} once the "
            f"next hit is known, {entry['provisional']['accuracy']:.3f} at once"
        )
    for name, model in zip(("shots", "shots_open"), train_shots.models(fits, clips)):
        exported = model.to_json()
        exported["provenance"] = provenance(SHOT_FEATURES, scores)
        write_model(name, exported)
    print(f"shots done in {time.monotonic() - started:.0f} s", file=sys.stderr)
    return scores


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.parse_args(argv)
    _commit_at_start()
    train_shuttle()
    train_hit_models()
    train_shot_models()
    return 0


if __name__ == "__main__":
    sys.exit(main())
