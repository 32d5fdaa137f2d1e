"""`make eval`: the analysis scored on labelled clips it never learnt from; prints the table.

1. Held out by match: every dev rally is analysed end to end by models trained without its
   match (the shuttle scorer, the hit and hitter models with how hits are picked, the shot
   types; whatever is chosen is chosen on the other matches alone). From the file (every
   frame, 15 poses a second), and streamed in real time to the server's live analysis as a
   phone sends the High (15 fps), Medium (10 fps) and Low (5 fps) presets.
2. Another venue: the Denmark Open rallies (25 fps MPEG-4, a hall and camera no model saw),
   with the shipped models, from the file and live.
3. Shuttle tracking per source, held out by match.
4. Court detection per source against the labelled corners, and the pictures it must refuse
   (`tools.court_eval`).

    python -m tools.evaluate [--modes file,high,medium,low] [--matches a,b] [--out eval.json]
                             [--only court]
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from analysis.court import Court
from analysis.events import SHOT_TYPES
from analysis.shuttle import ShuttlePoint
from analysis.trained import TrainedModels
from analysis.video import probe
from analysis.video_analyzer import VideoAnalyzer
from server.cli import silence_native_stderr
from server.streams import QUALITY_PRESETS
from tools import court_eval, shuttle_eval, train_hits, train_shots
from tools.dataset import Clip, aicup_clips, denmark_clips, shuttle_sources
from tools.live_feed import stream_clip
from tools.scoring import Counts, error_stats, hit_counts, match_hits, shuttle_counts, type_scores
from tools.shuttle_train import fold_scorer
from tools.training import live_pose_fps, match_folds

FILE_POSE_FPS = 15.0


@dataclass(frozen=True)
class Mode:
    name: str
    stream_fps: float | None  # None: the file, every frame

    @property
    def label(self) -> str:
        if self.stream_fps is None:
            return f"file ({FILE_POSE_FPS:g} poses/s)"
        return f"live {self.name.title()} ({self.stream_fps:g} fps)"


COURT_TITLE = "court detection (tuned on aicup only; refusal sets must be refused):"
# The file, and the capture page's presets at their rates.
MODES = {
    "file": Mode("file", None),
    **{name: Mode(name, float(QUALITY_PRESETS[name]["fps"])) for name in ("high", "medium", "low")},
}


def fold_models(
    clips: list[Clip],
    hit_folds: list[train_hits.FoldResult] | None = None,
    shot_fits: train_shots.Fits | None = None,
) -> dict[str, TrainedModels]:
    """For each match of `clips`, every model trained without it (the hit models and their
    picking nested: `train_hits.nested_scores`; the shot models and their settings nested:
    `train_shots.Fits`; each computed here unless given)."""
    started = time.monotonic()
    if hit_folds is None:
        hit_folds = train_hits.nested_scores(clips, train_hits.load_data(clips))
    if shot_fits is None:
        shot_fits = train_shots.Fits(clips, train_shots.load_data(clips))
    shots = train_shots.fold_models(clips, shot_fits)
    folds = {f.match: f for f in hit_folds}
    out = {}
    for match, _, _ in match_folds(clips):
        fold = folds[match]
        out[match] = TrainedModels(
            shuttle=fold_scorer(match),
            hits=fold.hits,
            hitter=fold.hitter,
            picker=fold.params,
            shots=shots[match][0],
            shots_open=shots[match][1],
        )
    print(f"models trained for {len(out)} held-out matches in {time.monotonic() - started:.0f} s")
    return out


def analyse(clip: Clip, mode: Mode, models: TrainedModels | None) -> tuple[dict, list, float]:
    """(report, shuttle points or [], seconds) of one clip in one mode."""
    started = time.monotonic()
    track: list[ShuttlePoint] = []
    if mode.stream_fps is None:
        analyzer = VideoAnalyzer(
            clip.video, clip.corners, FILE_POSE_FPS, shuttle_listener=track.extend, models=models
        )
        report = analyzer.run()
    else:
        info = probe(clip.video)
        court = Court.from_mapping(clip.corners, (info.width, info.height))
        pose_fps = live_pose_fps(mode.stream_fps)
        run = stream_clip(clip.video, court, mode.stream_fps, pose_fps, models)
        if run.report is None:
            raise RuntimeError(f"{clip.key}: the live analysis analysed no frame")
        report = run.report
        # Live frame numbers count the frames analysed: the file's come from the times.
        for shot in report["shots"]:
            shot["frame"] = round(shot["time"] * info.fps)
        report["revisions"] = sum(m["type"] == "shot_removed" for m in run.messages)
        report["frames_analysed"] = run.analysed
    return report, track, time.monotonic() - started


def score(clip: Clip, report: dict, track: list[ShuttlePoint]) -> dict:
    fps = probe(clip.video).fps  # of the file: a live report's is the rate analysed
    shots = report["shots"]
    detected = [(s["frame"], s["player"]) for s in shots]
    labelled = [(k.frame, k.player) for k in clip.strokes]
    result: dict = {"clip": clip.key, "match": clip.match, "seconds": report["video"]["duration"]}
    for tolerance in (3, 6):
        frames = round(tolerance / 30 * fps)
        result[f"hits_{tolerance}"] = hit_counts(
            len(detected), len(labelled), match_hits(detected, labelled, frames)
        )
    anyone = match_hits([(f, "-") for f, _ in detected], [(f, "-") for f, _ in labelled], 6)
    result["hits_any"] = hit_counts(len(detected), len(labelled), anyone)
    pairs = match_hits(detected, labelled, round(6 / 30 * fps))
    result["types"] = [(clip.strokes[j].type, shots[i]["type"]) for i, j in pairs]
    court = Court.from_mapping(clip.corners)
    errors = []
    for i, j in pairs:
        if shots[i]["court_xy"] is not None:
            truth = court.image_to_court(clip.strokes[j].hitter_px)
            errors.append(float(np.linalg.norm(truth - np.asarray(shots[i]["court_xy"]))))
    result["foot_errors"] = errors
    result["rallies"] = report["summary"]["rallies"]
    result["revisions"] = report.get("revisions", 0)
    if track:
        predicted = np.full((len(clip.shuttle), 2), np.nan)
        for p in track:
            if p.xy is not None and p.frame < len(predicted):
                predicted[p.frame] = p.xy
        result["shuttle"] = shuttle_counts(predicted, clip.shuttle[:, 1:3])
    return result


def summarise(results: list[dict]) -> dict:
    def total(key: str, rows: list[dict]) -> Counts:
        return sum((r[key] for r in rows), Counts(0, 0, 0))

    types = [t for r in results for t in r["types"]]
    by_match: dict[str, list[dict]] = {}
    for r in results:
        by_match.setdefault(r["match"], []).append(r)
    fold_f1 = [total("hits_6", rows).f1 for rows in by_match.values()]
    summary = {
        "clips": len(results),
        "strokes": sum(r["hits_6"].tp + r["hits_6"].fn for r in results),
        "hits_3": total("hits_3", results).as_dict(),
        "hits_6": total("hits_6", results).as_dict(),
        "hits_any_player": total("hits_any", results).as_dict(),
        "fold_f1_6": _spread(fold_f1) if len(by_match) > 1 else None,
        "types": type_scores([t for t, _ in types], [p for _, p in types]),
        "foot_error_m": error_stats([e for r in results for e in r["foot_errors"]]),
        # Each clip is one rally: a split rally and a lost one would cancel out in the sum.
        "rallies": {
            "found": sum(r["rallies"] for r in results),
            "labelled": len(results),
            "clips_right": sum(r["rallies"] == 1 for r in results),
        },
        "shots_withdrawn": sum(r["revisions"] for r in results),
    }
    if all("shuttle" in r for r in results):
        summary["shuttle"] = total("shuttle", results).as_dict()
    return summary


def _spread(values: list[float]) -> dict:
    return {
        "min": round(min(values), 3),
        "median": round(float(np.median(values)), 3),
        "max": round(max(values), 3),
    }


HEADER = (
    f"{'input':<24} {'F1@6':>5} {'F1@3':>5} {'any':>5} {'P@6':>5} {'R@6':>5} "
    f"{'type':>5} {'foot m':>6} {'rallies':>7} {'right':>5} {'folds F1@6 min/med/max':>23} "
    f"{'withdrawn':>9}"
)


def print_row(label: str, s: dict) -> None:
    h6, h3, anyone = s["hits_6"], s["hits_3"], s["hits_any_player"]
    folds = s["fold_f1_6"]
    spread = f"{folds['min']:.2f}/{folds['median']:.2f}/{folds['max']:.2f}" if folds else "-"
    foot = s["foot_error_m"]["median"]
    rallies = f"{s['rallies']['found']}/{s['rallies']['labelled']}"
    print(
        f"{label:<24} {h6['f1']:5.3f} {h3['f1']:5.3f} {anyone['f1']:5.3f} {h6['precision']:5.3f} "
        f"{h6['recall']:5.3f} {s['types']['accuracy']:5.3f} {foot if foot is not None else '-':>6} "
        f"{rallies:>7} {s['rallies']['clips_right']:>5} {spread:>23} {s['shots_withdrawn']:>9}",
        flush=True,
    )


def print_confusion(title: str, types: dict) -> None:
    print(f"\nshot types, {title} (rows truth, columns predicted; {types['n']} matched hits):")
    names = [n[:6] for n in SHOT_TYPES]
    print(" " * 12 + " ".join(f"{n:>6}" for n in names))
    for name, row in zip(SHOT_TYPES, types["confusion"]):
        print(f"{name:>12}" + " ".join(f"{v:>6}" for v in row))


def run_set(
    clips: list[Clip],
    modes: list[Mode],
    models_for: Callable[[Clip], TrainedModels | None],
    progress: bool = True,
) -> dict[str, dict]:
    out = {}
    for mode in modes:
        results = []
        for clip in clips:
            report, track, seconds = analyse(clip, mode, models_for(clip))
            results.append(score(clip, report, track))
            if progress:
                h6 = results[-1]["hits_6"]
                print(
                    f"  {mode.name:>6} {clip.key}: F1@6 {h6.f1:.2f} ({seconds:.0f} s)",
                    file=sys.stderr,
                )
        out[mode.name] = {"summary": summarise(results), "clips": [_jsonable(r) for r in results]}
    return out


def _jsonable(result: dict) -> dict:
    return {k: (v.as_dict() if isinstance(v, Counts) else v) for k, v in result.items()}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--modes", default=",".join(MODES), help=f"of: {', '.join(MODES)}")
    parser.add_argument("--matches", default="", help="comma-separated matches (default all)")
    parser.add_argument("--out", type=Path, default=Path("eval.json"))
    parser.add_argument("--no-shuttle", action="store_true", help="skip the shuttle table")
    parser.add_argument("--only", choices=["court"], help="run only this part")
    args = parser.parse_args(argv)
    silence_native_stderr()
    modes = [MODES[m] for m in args.modes.split(",") if m]
    if args.only == "court":
        print(COURT_TITLE)
        args.out.write_text(json.dumps({"court": court_eval.court_table()}, indent=1))
        return 0

    clips = aicup_clips()
    if not clips:
        print("no labelled clips found; is the shared data there?", file=sys.stderr)
        return 1
    models = fold_models(clips)
    scored = clips
    if args.matches:
        scored = [c for c in clips if c.match in args.matches.split(",")]
    result: dict = {}
    print(f"\nheld out by match: {len(scored)} rallies of {len({c.match for c in scored})} matches")
    print(HEADER)
    result["held_out"] = run_set(scored, modes, lambda c: models[c.match])
    for mode in modes:
        print_row(mode.label, result["held_out"][mode.name]["summary"])

    shipped = TrainedModels.shipped()
    denmark = denmark_clips()
    print(f"\nanother venue, shipped models: {len(denmark)} Denmark Open rallies (25 fps MPEG-4)")
    print(HEADER)
    result["denmark"] = run_set(denmark, modes, lambda c: shipped)
    for mode in modes:
        print_row(mode.label, result["denmark"][mode.name]["summary"])

    for mode in modes:
        types = result["held_out"][mode.name]["summary"]["types"]
        print_confusion(f"held out by match, {mode.label}", types)
    if not args.no_shuttle:
        print("\nshuttle tracking, held out by match (10 px at 1280 wide):")
        result["shuttle"] = shuttle_eval.source_table(shuttle_sources())
    print(f"\n{COURT_TITLE}")
    result["court"] = court_eval.court_table()
    args.out.write_text(json.dumps(result, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
