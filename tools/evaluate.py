"""`make eval`: scores the analyzer on the labelled AI CUP rallies and prints a table.

python -m tools.evaluate [--data DIR] [--clips 00001,00004] [--analysis-fps 15]
                        [--stream-fps 10] [--out eval.json] [--heldout]
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

from analysis.court import Court
from analysis.frame_analyzer import FrameAnalyzer
from analysis.shuttle import ShuttlePoint
from analysis.video import iter_frames, probe
from analysis.video_analyzer import VideoAnalyzer
from server.cli import silence_native_stderr
from tools.dataset import Clip, aicup_clips, data_dir
from tools.scoring import (
    Counts,
    error_stats,
    hit_counts,
    match_hits,
    shuttle_counts,
    type_scores,
)
from tools.track_cache import stream_frames

TOLERANCES = (3, 6)


def evaluate_clip(clip: Clip, analysis_fps: float, stream_fps: float | None = None) -> dict:
    """Runs the analyzer on one clip and scores it against the clip's labels.

    With `stream_fps`, the analyzer sees only that many frames a second, as from a live
    stream at that rate (frames keep their numbers in the file, so labels still match).
    """
    track: list[ShuttlePoint] = []
    started = time.monotonic()
    if stream_fps:
        report = analyse_as_stream(clip, analysis_fps, stream_fps, track.extend)
    else:
        analyzer = VideoAnalyzer(
            clip.video, clip.corners, analysis_fps, shuttle_listener=track.extend
        )
        report = analyzer.run()
    elapsed = time.monotonic() - started
    court = Court.from_mapping(clip.corners)

    shots = report["shots"]
    detected = [(s["frame"], s["player"]) for s in shots]
    labelled = [(k.frame, k.player) for k in clip.strokes]
    result: dict = {"clip": clip.name, "seconds": round(elapsed, 1)}
    result["video_seconds"] = report["video"]["duration"]
    for tol in TOLERANCES:
        pairs = match_hits(detected, labelled, tol)
        result[f"hits_{tol}"] = hit_counts(len(detected), len(labelled), pairs)

    pairs = match_hits(detected, labelled, 6)
    result["types"] = [(clip.strokes[j].type, shots[i]["type"]) for i, j in pairs]
    errors = []
    for i, j in pairs:
        if shots[i]["court_xy"] is not None:
            truth = court.image_to_court(clip.strokes[j].hitter_px)
            errors.append(float(np.linalg.norm(truth - np.asarray(shots[i]["court_xy"]))))
    result["foot_errors"] = errors

    predicted = np.full((len(clip.shuttle), 2), np.nan)
    for p in track:
        if p.xy is not None and p.frame < len(predicted):
            predicted[p.frame] = p.xy
    result["shuttle"] = shuttle_counts(predicted, clip.shuttle[:, 1:3])
    result["rallies"] = report["summary"]["rallies"]
    return result


def analyse_as_stream(clip: Clip, analysis_fps: float, stream_fps: float, listener) -> dict:
    info = probe(clip.video)
    court = Court.from_mapping(clip.corners, (info.width, info.height))
    with FrameAnalyzer(
        court, (info.width, info.height), pose_fps=analysis_fps, shuttle_listener=listener
    ) as analyzer:
        for frame, fed in stream_frames(iter_frames(clip.video), stream_fps):
            if fed:
                analyzer.process(frame.image, frame.time, frame.index)
        analyzer.finish()
        return analyzer.report(fps=info.fps)


def summarise(results: list[dict]) -> dict:
    total = {tol: sum((r[f"hits_{tol}"] for r in results), Counts(0, 0, 0)) for tol in TOLERANCES}
    types = [t for r in results for t in r["types"]]
    shuttle = sum((r["shuttle"] for r in results), Counts(0, 0, 0))
    errors = [e for r in results for e in r["foot_errors"]]
    seconds = sum(r["seconds"] for r in results)
    video = sum(r["video_seconds"] for r in results)
    return {
        "clips": len(results),
        **{f"hits_{tol}": total[tol].as_dict() for tol in TOLERANCES},
        "types": type_scores([t for t, _ in types], [p for _, p in types]),
        "shuttle": shuttle.as_dict(),
        "foot_error_m": error_stats(errors),
        "rallies": {"found": sum(r["rallies"] for r in results), "labelled": len(results)},
        "realtime_factor": round(video / seconds, 2) if seconds else None,
    }


def print_table(results: list[dict], overall: dict) -> None:
    header = (
        f"{'clip':>7} {'labels':>6} {'F1@3':>5} {'F1@6':>5} {'P@6':>5} {'R@6':>5} "
        f"{'type':>5} {'shtP':>5} {'shtR':>5} {'footm':>5} {'rally':>5} {'xRT':>5}"
    )
    print(header)
    print("-" * len(header))
    for r in results:
        h3, h6 = r["hits_3"], r["hits_6"]
        acc = np.mean([t == p for t, p in r["types"]]) if r["types"] else 0.0
        foot = np.median(r["foot_errors"]) if r["foot_errors"] else float("nan")
        print(
            f"{r['clip']:>7} {h6.tp + h6.fn:>6} {h3.f1:5.2f} {h6.f1:5.2f} {h6.precision:5.2f} "
            f"{h6.recall:5.2f} {acc:5.2f} {r['shuttle'].precision:5.2f} "
            f"{r['shuttle'].recall:5.2f} {foot:5.2f} {r['rallies']:>5} "
            f"{r['video_seconds'] / r['seconds']:5.2f}"
        )
    print("-" * len(header))
    h3, h6, t = overall["hits_3"], overall["hits_6"], overall["types"]
    print(
        f"overall: hit F1 {h3['f1']:.3f} (+-3 frames), {h6['f1']:.3f} "
        f"(+-6: P {h6['precision']:.3f} R {h6['recall']:.3f}); "
        f"shot type accuracy {t['accuracy']:.3f}, macro-F1 "
        f"{t['macro_f1']:.3f} over {t['n']} matched hits"
    )
    foot = overall["foot_error_m"]
    print(
        f"shuttle P {overall['shuttle']['precision']:.3f} R {overall['shuttle']['recall']:.3f} "
        f"(10 px); foot error median {foot['median']} m, p90 {foot['p90']} m; rallies "
        f"{overall['rallies']['found']}/{overall['rallies']['labelled']}; "
        f"{overall['realtime_factor']}x real time"
    )
    print("\nconfusion (rows truth, columns predicted):")
    labels = [name[:6] for name in t["labels"]]
    print(" " * 12 + " ".join(f"{name:>6}" for name in labels))
    for name, row in zip(t["labels"], t["confusion"]):
        print(f"{name:>12}" + " ".join(f"{v:>6}" for v in row))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--data", type=Path, default=None)
    parser.add_argument("--clips", default="", help="comma-separated clip names (default all)")
    parser.add_argument("--analysis-fps", type=float, default=15.0)
    parser.add_argument(
        "--stream-fps",
        type=float,
        default=None,
        help="feed the analyzer only this many frames a second, as a live stream would",
    )
    parser.add_argument("--out", type=Path, default=Path("eval.json"))
    parser.add_argument(
        "--heldout",
        action="store_true",
        help="also retrain the learned models leaving clips out and score them on the clips "
        "they did not see (needs scikit-learn; caches the tracks under .cache/)",
    )
    args = parser.parse_args(argv)
    silence_native_stderr()

    root = (args.data or data_dir()).resolve()
    clips = aicup_clips(root)
    if args.clips:
        wanted = set(args.clips.split(","))
        clips = [c for c in clips if c.name in wanted]
    if not clips:
        print(f"no labelled clips found under {root}", file=sys.stderr)
        return 1
    results = []
    for clip in clips:
        results.append(evaluate_clip(clip, args.analysis_fps, args.stream_fps))
        print(f"  {clip.name}: {results[-1]['hits_6'].as_dict()}", file=sys.stderr)
    overall = summarise(results)
    print_table(results, overall)
    per_clip = [
        {
            **{k: v for k, v in r.items() if k not in ("types", "foot_errors", "shuttle")},
            **{f"hits_{tol}": r[f"hits_{tol}"].as_dict() for tol in TOLERANCES},
            "shuttle": r["shuttle"].as_dict(),
            "foot_error_m": error_stats(r["foot_errors"]),
            "types": r["types"],
        }
        for r in results
    ]
    result = {"overall": overall, "clips": per_clip}
    if args.heldout:
        result["heldout"] = heldout_scores(clips, args.analysis_fps)
    args.out.write_text(json.dumps(result, indent=1))
    return 0


def heldout_scores(clips: list[Clip], analysis_fps: float, folds: int = 5) -> dict:
    """Scores of the learned parts on clips their models never saw (leave-clips-out), for
    the file's every frame and for live streams at the rates the models are trained on.

    The shipped models were trained on these clips, so the table above flatters them; these
    numbers are the honest estimate for new footage.
    """
    from tools import train_hits, train_shots
    from tools.track_cache import cache_players, cache_shuttle
    from tools.training import TRAIN_RATES, rate_name

    for clip in clips:
        cache_players(clip, analysis_fps)
        for rate in TRAIN_RATES:
            cache_shuttle(clip, rate)
    hits = train_hits.cross_validate(
        clips, train_hits.load_data(clips, TRAIN_RATES), folds, (None,), TRAIN_RATES, TRAIN_RATES
    )
    types = train_shots.cross_validate(
        clips, train_shots.load_data(clips, TRAIN_RATES), folds, TRAIN_RATES, TRAIN_RATES
    )
    print(f"\nheld out ({folds} folds by clip, models retrained without the scored clips):")
    result = {}
    for rate in TRAIN_RATES:
        by_tolerance = hits[rate][None]
        print(
            f"{rate_name(rate):>7}: hit F1 {by_tolerance[3].f1:.3f} (+-3 frames), "
            f"{by_tolerance[6].f1:.3f} (+-6: P {by_tolerance[6].precision:.3f} R "
            f"{by_tolerance[6].recall:.3f}); shot type accuracy {types[rate]['accuracy']:.3f}, "
            f"macro-F1 {types[rate]['macro_f1']:.3f} at the labelled hits"
        )
        result[rate_name(rate)] = {
            "hits_3": by_tolerance[3].as_dict(),
            "hits_6": by_tolerance[6].as_dict(),
            "types_at_labelled_hits": types[rate],
        }
    return result


if __name__ == "__main__":
    sys.exit(main())
