"""The live load benchmark: N phones streaming to one server at once, and what it costs.

For each N (1, 2, 4, 8 by default) it starts the real server (`python -m server.cli serve`)
on a free loopback port with an empty data folder, signs up one user, and lets N aiortc
publishers in this process each create a session, set the court and stream the bench clip
for a while, measured from when every stream has its first results (loading the models
takes seconds, and would otherwise fill the first minute and hide a later growth; the time
is reported as warmup_s). Then it prints, per N: the results each stream gets back
(analysed frames and messages per second), the server's own latency (frame received ->
results sent, p50/p95 over 60 s, read from the status endpoint at the one-minute mark and at
the end), the round trip the clients see (frame handed to the sender -> its results back),
the server's CPU and memory, and the share of frames the server dropped because the
analysis was busy. A last line says whether the target holds: 4 streams at 10 fps with
p95 < 150 ms and no growth over 5 minutes, judged on the server's p95 (what its status
reports) with the clients' round trip beside it. The load itself is `tools.live_load`.

Options (environment variables, so `make bench` passes them down):
  BENCH_LIVE_STREAMS=1,2,4,8   stream counts, one server run each
  BENCH_LIVE_FPS=10            the phones' frame rate (5, 10, 15 or 30: a quality preset)
  BENCH_LIVE_SECONDS=...       streaming time of every run. By default 300 s for 4 streams
                               (the target speaks of 5 minutes: latency or memory that grows
                               only shows over that long) and 90 s for the others, which
                               still gives a first and a last minute to compare while
                               keeping `make bench` around ten minutes.

The phones' video is prepared once: the bench clip re-encoded to H.264 at the chosen rate
(no B-frames, a keyframe every 2 s, SPS/PPS before each), looped to cover the run, in an
MPEG-TS file (Annex B, as RTP carries H.264). aiortc's `MediaPlayer(decode=False)` sends its
packets as they are, so the clients encode nothing and leave the CPU to the server.

The `live_recording` benchmark answers what recording costs the analysis: 1 stream at High
(15 fps) and 4 at Medium (10 fps), each run once without and once with every stream recorded
throughout (BENCH_LIVE_RECORDING_SECONDS each, 60 by default). It prints the analysed frames
per second of both runs and their ratio; the target is a ratio of at least 0.95. The phones
send H.264, which the server records as it comes.

The clients' round trip is longer than the server's latency by what the server cannot see:
transport, decoding, and mostly aiortc's jitter buffer, which hands a frame on only when the
first packet of the next one arrives (one frame interval: 100 ms at 10 fps). The server's
timestamps count from the first frame it analysed, which is the first it received; the
round trip is computed only for streams whose first stats update says so (timestamp 0).
"""

from __future__ import annotations

import asyncio
import math
import os
import statistics
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from tools.bench import Context, Result, benchmark

if TYPE_CHECKING:
    from tools.live_load import LoadRun, Sample

DEFAULT_STREAMS = (1, 2, 4, 8)
DEFAULT_FPS = 10.0
TARGET_STREAMS, TARGET_FPS, TARGET_P95_MS, TARGET_S = 4, 10.0, 150.0, 300.0
WINDOW_S = 60.0  # the server's latency window; "first" and "last" minute
# Recording's cost: (streams, fps) cases, and the least share of analysed frames it may cost.
RECORDING_CASES = ((1, 15.0), (4, 10.0))
RECORDING_TARGET = 0.95
RECORDING_SECONDS = 60.0
# Latency counts as grown when the last minute's p95 is this much above the first one's
# (relative and absolute, so that noise at a few milliseconds is no growth).
GROWTH_RATIO, GROWTH_MS = 1.2, 10.0


@dataclass(frozen=True)
class LiveOptions:
    """What to run: the stream counts, the phones' frame rate, and for how long."""

    streams: tuple[int, ...]
    fps: float
    seconds: float | None  # None: the per-N default

    @classmethod
    def from_env(cls, env: dict[str, str] | None = None) -> LiveOptions:
        """From BENCH_LIVE_STREAMS, BENCH_LIVE_FPS and BENCH_LIVE_SECONDS."""
        env = dict(os.environ if env is None else env)
        streams = tuple(int(v) for v in env.get("BENCH_LIVE_STREAMS", "").split(",") if v.strip())
        seconds = env.get("BENCH_LIVE_SECONDS")
        return cls(
            streams=streams or DEFAULT_STREAMS,
            fps=float(env.get("BENCH_LIVE_FPS", DEFAULT_FPS)),
            seconds=float(seconds) if seconds else None,
        )

    def duration(self, n: int) -> float:
        """Seconds to measure with `n` streams."""
        if self.seconds is not None:
            return self.seconds
        return TARGET_S if n == TARGET_STREAMS else 90.0


# -- the numbers -----------------------------------------------------------------------


def summarize(run: LoadRun, fps: float) -> list[Result]:
    """Per-N results; names start with n<N>_."""
    p = f"n{run.n}_"
    first = _at(run.samples, WINDOW_S)
    last = run.samples[-1]
    last_start = _at(run.samples, max(0.0, last.t - WINDOW_S))
    span = f"first minute = 0-{first.t:.0f} s, last = {last_start.t:.0f}-{last.t:.0f} s"
    results = [*_rates(run, p), *_server_latency(run, p, first, last, span)]
    results += _round_trips(run, p, fps, first.t, last_start.t)
    other = f", other load {run.other_cores:.1f}" if run.other_cores is not None else ""
    results += [
        Result(
            p + "server_cpu_first_cores",
            _cores(run.samples[0], first),
            "cores",
            f"clients {run.client_cores:.2f} cores{other}",
        ),
        Result(p + "server_cpu_last_cores", _cores(last_start, last), "cores"),
        Result(
            p + "server_rss_start_mb",
            run.samples[0].rss_mb,
            "MB",
            f"idle before any session {run.rss_idle_mb:.0f} MB",
        ),
        Result(p + "server_rss_end_mb", last.rss_mb, "MB", f"VmHWM {run.hwm_mb:.0f} MB"),
        Result(p + "end_s", run.end_s, "s", "ending every session: final report stored"),
        Result(
            p + "connections_lost",
            run.lost,
            "phones",
            "dropped by the server during the run (overload: ICE consent answered too late)",
        ),
    ]
    return results


def _stream_rates(run: LoadRun, kind: str) -> list[float]:
    """Each stream's mean frame rate of `kind` (received, analysed) over the run."""
    steady = run.samples[1:] or run.samples  # the first one's 5 s rates reach into the warm-up
    rates = []
    for i in range(len(run.publishers)):
        lives = [live for s in steady if (live := s.live[i]) is not None]
        rates.append(_mean([live["fps"][kind] for live in lives]))
    return rates


def _rates(run: LoadRun, p: str) -> list[Result]:
    analysed, received = _stream_rates(run, "analysed"), _stream_rates(run, "received")
    messages = []
    sent = dropped = 0
    for i, pub in enumerate(run.publishers):
        messages.append(sum(1 for at, _ in pub.received if _timed(run, at)) / run.seconds)
        sent += sum(1 for at in pub.track.sent_at if _timed(run, at))
        first, last = run.samples[0].live[i], run.samples[-1].live[i]
        if first is not None and last is not None:
            dropped += last["frames_dropped"] - first["frames_dropped"]
    return [
        Result(
            p + "analysed_fps",
            _mean(analysed),
            "frames/s",
            f"per stream, slowest {min(analysed):.1f}; received {_mean(received):.1f}",
        ),
        Result(p + "messages_per_s", _mean(messages), "msg/s", "per stream"),
        Result(
            p + "dropped_share",
            100 * dropped / sent if sent else math.nan,
            "%",
            f"{dropped} of {sent} frames sent: replaced while the analysis was busy",
        ),
        Result(
            p + "warmup_s",
            run.warmup_s,
            "s",
            "connected -> every stream's first results (models loading); not in the rest",
        ),
    ]


def _timed(run: LoadRun, at: float) -> bool:
    """Whether monotonic time `at` falls in the measured part of the run."""
    return 0.0 <= at - run.started <= run.seconds


def _server_latency(run: LoadRun, p: str, first: Sample, last: Sample, span: str) -> list[Result]:
    out = []
    for label, sample in (("first", first), ("last", last)):
        lives = [live for live in sample.live if live is not None]
        p50s = [live["latency_ms"]["p50"] for live in lives if live["latency_ms"]["p50"]]
        p95s = [live["latency_ms"]["p95"] for live in lives if live["latency_ms"]["p95"]]
        note = f"median of {len(p50s)} streams" if label == "first" else ""
        out.append(
            Result(
                f"{p}server_latency_p50_{label}_ms",
                statistics.median(p50s) if p50s else math.nan,
                "ms",
                note,
            )
        )
        note = f"worst stream; {span}" if label == "first" else "worst stream"
        out.append(
            Result(f"{p}server_latency_p95_{label}_ms", max(p95s, default=math.nan), "ms", note)
        )
    return out


def _round_trips(
    run: LoadRun, p: str, fps: float, first_end: float, last_start: float
) -> list[Result]:
    aligned = [
        pub
        for pub in run.publishers
        if (t := pub.first_stats_time()) is not None and abs(t) < 0.5 / fps
    ]
    trips = [(at - run.started, rt) for pub in aligned for at, rt in pub.round_trips(0.5 / fps)]
    windows = {
        "first": [rt for t, rt in trips if 0 <= t <= first_end],
        "last": [rt for t, rt in trips if last_start <= t <= run.seconds],
    }
    note = (
        f"{len(aligned)} of {run.n} streams' timestamps start at their first frame; "
        f"{len(windows['first'])} and {len(windows['last'])} frames"
    )
    out = []
    for label, values in windows.items():
        p50, p95 = np.percentile(values, [50, 95]) * 1e3 if values else (math.nan, math.nan)
        out.append(
            Result(
                f"{p}round_trip_p50_{label}_ms", float(p50), "ms", note if label == "first" else ""
            )
        )
        out.append(
            Result(
                f"{p}round_trip_p95_{label}_ms",
                float(p95),
                "ms",
                "sent -> first message about the frame" if label == "first" else "",
            )
        )
    return out


def verdict(results: list[Result], seconds: float) -> Result:
    """Whether the target holds: 4 streams at 10 fps, p95 < 150 ms, no growth in 5 min."""
    values = {r.name: r.value for r in results}
    p = f"n{TARGET_STREAMS}_"
    first = values[p + "server_latency_p95_first_ms"]
    last = values[p + "server_latency_p95_last_ms"]
    trip = values[p + "round_trip_p95_last_ms"]
    fast = last < TARGET_P95_MS
    grew = last > first * GROWTH_RATIO and last - first > GROWTH_MS
    long_enough = seconds >= TARGET_S
    lost = values.get(p + "connections_lost", 0.0)
    met = fast and not grew and long_enough and not lost and not math.isnan(last)
    note = (
        f"4 streams at 10 fps: server p95 {first:.0f} -> {last:.0f} ms (< {TARGET_P95_MS:.0f}:"
        f" {'yes' if fast else 'NO'}; growth: {'YES' if grew else 'no'}), client round trip"
        f" p95 {trip:.0f} ms"
        + (f"; {lost:.0f} connection(s) lost" if lost else "")
        + ("" if long_enough else f"; only {seconds:.0f} s, not judged (needs {TARGET_S:.0f})")
    )
    return Result("target_met", 1.0 if met else 0.0, "yes=1", note)


def _at(samples: list[Sample], t: float) -> Sample:
    """The first sample at or after `t`, else the last."""
    return next((s for s in samples if s.t >= t), samples[-1])


def _cores(a: Sample, b: Sample) -> float:
    return (b.cpu_s - a.cpu_s) / (b.t - a.t) if b.t > a.t else math.nan


def _mean(values: list[float]) -> float:
    return statistics.fmean(values) if values else math.nan


# -- the benchmark ---------------------------------------------------------------------


@benchmark("live")
def bench_live(ctx: Context) -> list[Result]:
    """N live streams against one server process, for each N."""
    # Imported here: every benchmark's process imports this module, and the server's modules
    # and aiortc would add 80 MB and more than a second to the other benchmarks' numbers.
    from tools.live_load import SPARE_S, prepare_input, quality_for, run_load

    options = LiveOptions.from_env()
    quality, kbps = quality_for(options.fps)
    results: list[Result] = []
    with tempfile.TemporaryDirectory(prefix="bench-live-") as tmp:
        video = Path(tmp) / "phone.ts"
        longest = max(options.duration(n) for n in options.streams)
        length = prepare_input(ctx.clip.video, video, options.fps, kbps, longest + SPARE_S)
        print(
            f"  (phones send {length:.0f} s of H.264 at {options.fps:g} fps, {kbps} kb/s, "
            f"packets as they are; streams {','.join(map(str, options.streams))})",
            flush=True,
        )
        for n in options.streams:
            seconds = options.duration(n)
            print(f"  ({n} streams for {seconds:.0f} s)", flush=True)
            court = (ctx.clip.corners, ctx.size)
            try:
                run = asyncio.run(run_load(n, seconds, video, quality, court, Path(tmp)))
            except RuntimeError as exc:  # the other stream counts still tell something
                print(f"  {exc}", file=sys.stderr, flush=True)
                results.append(Result(f"n{n}_failed", 1.0, "", str(exc).splitlines()[0]))
                continue
            results += summarize(run, options.fps)
            if n == TARGET_STREAMS and options.fps == TARGET_FPS:
                results.append(verdict(results, seconds))
    return results


def recording_cost(case: str, plain: LoadRun, recorded: LoadRun) -> list[Result]:
    """Analysed frames per second without and with recording, and their ratio."""
    off, on = _mean(_stream_rates(plain, "analysed")), _mean(_stream_rates(recorded, "analysed"))
    ratio = on / off if off else math.nan
    loads = [f"{r.other_cores:.1f}" for r in (plain, recorded) if r.other_cores is not None]
    load = f"; other load {' and '.join(loads)} cores" if loads else ""
    cpu = [_cores(r.samples[0], r.samples[-1]) for r in (plain, recorded)]
    recording = sum(1 for live in recorded.samples[-1].live if live and live["recording"])
    return [
        Result(f"{case}_analysed_fps", off, "frames/s", "per stream, not recording"),
        Result(
            f"{case}_recording_analysed_fps",
            on,
            "frames/s",
            f"per stream, {recording} of {recorded.n} recording at the end{load}",
        ),
        Result(
            f"{case}_recording_ratio",
            ratio,
            "x",
            f"target >= {RECORDING_TARGET:g}: {'yes' if ratio >= RECORDING_TARGET else 'NO'};"
            f" server CPU {cpu[0]:.2f} -> {cpu[1]:.2f} cores",
        ),
    ]


@benchmark("live_recording")
def bench_live_recording(ctx: Context) -> list[Result]:
    """What recording costs the live analysis: analysed fps without and with it."""
    from tools.live_load import SPARE_S, prepare_input, quality_for, run_load

    seconds = float(os.environ.get("BENCH_LIVE_RECORDING_SECONDS") or RECORDING_SECONDS)
    court = (ctx.clip.corners, ctx.size)
    results: list[Result] = []
    with tempfile.TemporaryDirectory(prefix="bench-recording-") as tmp:
        for n, fps in RECORDING_CASES:
            quality, kbps = quality_for(fps)
            case = f"n{n}_{quality}"
            video = Path(tmp) / f"phone-{fps:g}.ts"
            prepare_input(ctx.clip.video, video, fps, kbps, seconds + SPARE_S)
            print(f"  ({n} stream(s) at {quality} for {seconds:.0f} s, then recorded)", flush=True)
            try:
                runs = [
                    asyncio.run(
                        run_load(n, seconds, video, quality, court, Path(tmp), record=record)
                    )
                    for record in (False, True)
                ]
            except RuntimeError as exc:
                print(f"  {exc}", file=sys.stderr, flush=True)
                results.append(Result(f"{case}_failed", 1.0, "", str(exc).splitlines()[0]))
                continue
            results += recording_cost(case, *runs)
    return results
