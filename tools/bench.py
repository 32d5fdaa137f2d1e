"""`make bench`: how fast the batch analysis runs on this machine, and where the time goes.

python -m tools.bench [--data DIR] [--seconds 60] [--only decode,shuttle,pose,analyze,court]
                     [--analysis-fps 10,15,30] [--json bench.json]

The input is the longest labelled broadcast rally (720p, 30 fps) played several times in a
row (its packets copied into a temporary file, nothing re-encoded) to make about `--seconds`
of video. Each benchmark runs in a fresh process and prints its speed with the CPU it used.
The machine may be shared: every stage also shows how many cores the rest of the machine kept
busy meanwhile ("other load"), and the analysis shows its CPU cost per frame, which other
load disturbs much less than its wall time.

More benchmarks (a live-stream load test, say) plug in with `@benchmark("name")`: a function
that takes the `Context` and returns `Result`s. A module that registers some is listed in
`BENCHMARK_MODULES`; `--only` selects among them all.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib
import json
import multiprocessing
import os
import platform
import resource
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ProcessPoolExecutor
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path

import av
import numpy as np

from analysis.blazepose import BlazePoseEstimator
from analysis.court import Court
from analysis.court_detect import detect_court
from analysis.court_video import court_frames
from analysis.players import PlayerTracker
from analysis.pose import Estimator, Pose, PoseEstimator
from analysis.shuttle import ShuttleTracker
from analysis.trackers import SIDES
from analysis.video import iter_frames, probe
from analysis.video_analyzer import VideoAnalyzer
from tools.dataset import Clip, aicup_clips, data_dir

CLIP = "00004"  # the longest labelled rally: 668 frames, 22.3 s
POSE_SAMPLES = 120  # pose calls timed per player and setting
SHUTTLE_FRAMES = 150  # held in memory: 2.7 MB each at 720p
COURT_REPEATS = 5  # court detections timed
# Modules that register more benchmarks when imported (each benchmark process imports them).
BENCHMARK_MODULES: tuple[str, ...] = (
    "tools.bench_memory",
    "tools.bench_live",
    "tools.bench_cluster",
)


@dataclass(frozen=True)
class Result:
    """One measured number."""

    name: str
    value: float
    unit: str
    note: str = ""


@dataclass
class Context:
    """What every benchmark gets: the looped video, its court, the results so far."""

    video: Path
    clip: Clip
    court: Court
    size: tuple[int, int]  # width, height
    fps: float
    frames: int
    duration: float
    analysis_fps: tuple[float, ...]
    results: dict[str, list[Result]] = field(default_factory=dict)

    def value(self, stage: str, name: str) -> float | None:
        """A number an earlier benchmark measured, for ratios."""
        return next((r.value for r in self.results.get(stage, []) if r.name == name), None)


Benchmark = Callable[[Context], list[Result]]
BENCHMARKS: dict[str, Benchmark] = {}


def benchmark(name: str) -> Callable[[Benchmark], Benchmark]:
    """Registers a benchmark under `name`; they run in registration order."""

    def register(fn: Benchmark) -> Benchmark:
        BENCHMARKS[name] = fn
        return fn

    return register


# -- measuring -------------------------------------------------------------------------


@dataclass
class Usage:
    """Wall time, CPU and memory of a measured block."""

    wall: float = 0.0
    cpu: float = 0.0  # this process, all threads
    machine_busy: float | None = None  # cores busy on the whole machine, on average
    peak_rss_mb: float = 0.0  # sampled
    thread_cpu: dict[str, float] = field(default_factory=dict)  # seconds per thread group

    @property
    def cores(self) -> float:
        return self.cpu / self.wall if self.wall else 0.0

    @property
    def other(self) -> float | None:
        """Cores the rest of the machine kept busy meanwhile."""
        if self.machine_busy is None:
            return None
        return max(0.0, self.machine_busy - self.cores)

    def note(self) -> str:
        other = f", other load {self.other:.1f}" if self.other is not None else ""
        return f"{self.cores:.2f} cores{other}, peak RSS {self.peak_rss_mb:.0f} MB"


@contextmanager
def measure(threads: bool = False) -> Iterator[Usage]:
    """Measures the block: wall and CPU time, machine load, and (sampled every 50 ms) peak
    RSS and, with `threads`, the CPU time of each group of threads (see `_thread_group`)."""
    usage = Usage()
    stop = threading.Event()
    peak = [rss_mb()]
    per_thread: dict[int, tuple[str, float]] = {}
    before = _thread_times() if threads else {}

    def sample() -> None:
        while not stop.wait(0.05):
            peak[0] = max(peak[0], rss_mb())
            if threads:
                per_thread.update(_thread_times())

    sampler = threading.Thread(target=sample, name="sampler", daemon=True)
    busy0, wall0, cpu0 = _machine_ticks(), time.perf_counter(), time.process_time()
    sampler.start()
    try:
        yield usage
    finally:
        usage.wall = time.perf_counter() - wall0
        usage.cpu = time.process_time() - cpu0
        busy1 = _machine_ticks()
        stop.set()
        sampler.join()
        usage.peak_rss_mb = max(peak[0], rss_mb())
        if busy0 is not None and busy1 is not None and busy1[1] > busy0[1]:
            usage.machine_busy = (busy1[0] - busy0[0]) / (busy1[1] - busy0[1]) * _cpus()
        if threads:
            per_thread.update(_thread_times())
            for tid, (name, seconds) in per_thread.items():
                spent = seconds - before.get(tid, (name, 0.0))[1]
                group = _thread_group(name)
                usage.thread_cpu[group] = usage.thread_cpu.get(group, 0.0) + spent


def _thread_times() -> dict[int, tuple[str, float]]:
    """CPU seconds of each live thread of this process, by OS thread id (Linux), named by
    Python where it knows the thread and by the kernel (MediaPipe's, FFmpeg's) otherwise."""
    names = {t.native_id: t.name for t in threading.enumerate()}
    tick = os.sysconf("SC_CLK_TCK")
    out = {}
    try:
        tids = os.listdir("/proc/self/task")
    except OSError:
        return out
    for tid in tids:
        try:
            stat = Path(f"/proc/self/task/{tid}/stat").read_text()
        except OSError:  # the thread ended meanwhile
            continue
        comm = stat[stat.index("(") + 1 : stat.rindex(")")]
        fields = stat[stat.rindex(")") + 2 :].split()
        out[int(tid)] = (names.get(int(tid), comm), (int(fields[11]) + int(fields[12])) / tick)
    return out


def _thread_group(name: str) -> str:
    if name.startswith(("mediapipe", "pose")):
        return "pose"
    if name.startswith("av:") or name == "decode":
        return "decode"
    if name == "MainThread":
        return "main"
    return "other"


def rss_mb() -> float:
    """This process's resident memory now (0.0 where /proc cannot tell)."""
    try:
        pages = int(Path("/proc/self/statm").read_text().split()[1])
    except (OSError, IndexError, ValueError):
        return 0.0
    return pages * os.sysconf("SC_PAGE_SIZE") / 2**20


def _machine_ticks() -> tuple[int, int] | None:
    """(busy, total) CPU ticks of the whole machine since boot (Linux), else None."""
    try:
        fields = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    except (OSError, ValueError):
        return None
    idle = fields[3] + (fields[4] if len(fields) > 4 else 0)  # idle + iowait
    total = sum(fields[:8])  # guest time is already counted in user
    return total - idle, total


def _cpus() -> int:
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


# -- input -----------------------------------------------------------------------------


def loop_video(src: Path, dst: Path, loops: int) -> None:
    """Writes `src` `loops` times in a row into `dst` (packets copied, timestamps shifted)."""
    with av.open(str(dst), mode="w") as out:
        stream_out = None
        offset = 0
        for _ in range(loops):
            with av.open(str(src)) as inp:
                stream = inp.streams.video[0]
                if stream_out is None:
                    stream_out = out.add_stream_from_template(stream)
                end = offset
                for packet in inp.demux(stream):
                    if packet.dts is None:  # the demuxer's empty end-of-stream packet
                        continue
                    packet.pts += offset
                    packet.dts += offset
                    end = max(end, packet.pts + packet.duration)
                    packet.stream = stream_out
                    out.mux(packet)
                offset = end


# -- benchmarks ------------------------------------------------------------------------


@benchmark("decode")
def bench_decode(ctx: Context) -> list[Result]:
    """Decoding only: the floor under every other number."""
    frames = 0
    with measure() as usage:
        for _ in iter_frames(ctx.video):
            frames += 1
    fps = frames / usage.wall
    return [
        Result("frames_per_s", fps, "frames/s", usage.note()),
        Result("realtime_factor", fps / ctx.fps, "x", "video seconds per wall second"),
        Result("cpu_ms_per_frame", usage.cpu / frames * 1e3, "ms"),
    ]


@benchmark("shuttle")
def bench_shuttle(ctx: Context) -> list[Result]:
    """The shuttle tracker alone, on frames decoded beforehand, in this thread."""
    images = [f.image for _, f in zip(range(SHUTTLE_FRAMES), iter_frames(ctx.video))]
    tracker = ShuttleTracker(ctx.size, ctx.court)
    with measure() as usage:
        for i, image in enumerate(images):
            tracker.update(image, i, i / ctx.fps)
        tracker.flush()
    return [
        Result("ms_per_frame", usage.wall / len(images) * 1e3, "ms", usage.note()),
        Result("cpu_ms_per_frame", usage.cpu / len(images) * 1e3, "ms"),
    ]


class _RecordingEstimator:
    """A pose estimator that keeps a copy of every crop a PlayerTracker looks at."""

    def __init__(self, estimator: Estimator) -> None:
        self._estimator = estimator
        self.patches: list[np.ndarray] = []

    def estimate(self, image: np.ndarray, crop: tuple[int, int, int, int]) -> Pose | None:
        h, w = image.shape[:2]
        x0, y0, x1, y1 = (int(round(v)) for v in crop)
        self.patches.append(image[max(0, y0) : min(h, y1), max(0, x0) : min(w, x1)].copy())
        return self._estimator.estimate(image, crop)

    def close(self) -> None:
        self._estimator.close()


def _player_patches(ctx: Context, count: int) -> dict[str, list[np.ndarray]]:
    """The image regions each player's tracker hands to pose estimation at a 15 fps pose
    rate, in order (MediaPipe's tracking mode depends on the order)."""
    step = max(1, round(ctx.fps / 15))
    recorders, trackers = {}, {}
    for side in SIDES:
        recorders[side] = _RecordingEstimator(BlazePoseEstimator())
        trackers[side] = PlayerTracker(ctx.court, side, ctx.size, estimator=recorders[side])
    for frame in iter_frames(ctx.video):
        if frame.index >= count * step:
            break
        if frame.index % step == 0:
            for tracker in trackers.values():
                tracker.update(frame.image, frame.index, frame.time)
    for tracker in trackers.values():
        tracker.close()
    return {side: recorder.patches[:count] for side, recorder in recorders.items()}


def _run_poses(
    patches: list[np.ndarray], out: dict, key: str, make: Callable[[], Estimator]
) -> None:
    with contextlib.closing(make()) as estimator:
        start = time.perf_counter()
        for patch in patches:
            estimator.estimate(patch, (0, 0, patch.shape[1], patch.shape[0]))
        out[key] = (len(patches), time.perf_counter() - start)


@benchmark("pose")
def bench_pose(ctx: Context) -> list[Result]:
    """Pose estimation (BlazePose, as the analysis runs it) on the player crops the trackers
    choose, one thread and two; and MediaPipe's own pose graph on the same crops, for scale."""
    patches = _player_patches(ctx, POSE_SAMPLES)
    results = []
    single: dict[str, tuple[int, float]] = {}
    with measure() as usage:
        for side in SIDES:
            _run_poses(patches[side], single, side, BlazePoseEstimator)
    n = sum(c for c, _ in single.values())
    results.append(Result("poses_per_s_1_thread", n / usage.wall, "poses/s", usage.note()))
    cpu_note = f"{usage.cpu / n * 1e3:.1f} ms CPU"
    results.append(Result("ms_per_pose", usage.wall / n * 1e3, "ms", cpu_note))
    both: dict[str, tuple[int, float]] = {}
    with measure() as usage:
        threads = [
            threading.Thread(
                target=_run_poses, args=(patches[side], both, side, BlazePoseEstimator)
            )
            for side in SIDES
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    n = sum(c for c, _ in both.values())
    two = n / usage.wall
    results.append(Result("poses_per_s_2_threads", two, "poses/s", usage.note()))
    for fps in ctx.analysis_fps:
        # Two poses per analysed frame: how fast the video could go if poses were all it did.
        note = "ceiling set by poses alone, two threads"
        results.append(Result(f"pose_bound_rtf_at_{fps:g}", two / (len(SIDES) * fps), "x", note))
    graph: dict[str, tuple[int, float]] = {}
    with measure() as usage:
        for side in SIDES:
            _run_poses(patches[side], graph, side, PoseEstimator)
    n = sum(c for c, _ in graph.values())
    note = f"{usage.cpu / n * 1e3:.1f} ms CPU; MediaPipe's pose graph, same model and crops"
    results.append(Result("mediapipe_graph_ms_per_pose", usage.wall / n * 1e3, "ms", note))
    return results


@benchmark("analyze")
def bench_analyze(ctx: Context) -> list[Result]:
    """The whole batch analysis (VideoAnalyzer.run) at each analysis rate."""
    started = time.perf_counter()
    BlazePoseEstimator().close()  # loads the pose model: a one-off cost, reported apart
    results = [Result("startup_s", time.perf_counter() - started, "s", "load the pose model")]
    decode_rtf = ctx.value("decode", "realtime_factor")
    for fps in ctx.analysis_fps:
        analyzer = VideoAnalyzer(ctx.video, ctx.clip.corners, analysis_fps=fps)
        with measure(threads=True) as usage:
            report = analyzer.run()
        frames, duration = report["video"]["frames"], report["video"]["duration"]
        rtf = duration / usage.wall
        note = usage.note()
        if decode_rtf:
            note += f"; {rtf / decode_rtf:.2f} of decode-only speed"
        results.append(Result(f"realtime_factor_at_{fps:g}", rtf, "x", note))
        split = ", ".join(
            f"{group} {seconds / frames * 1e3:.1f}"
            for group, seconds in sorted(usage.thread_cpu.items(), key=lambda kv: -kv[1])
        )
        results.append(
            Result(
                f"cpu_ms_per_frame_at_{fps:g}", usage.cpu / frames * 1e3, "ms", f"threads: {split}"
            )
        )
        # The speed this CPU cost allows when every core of the machine is free.
        note = f"{_cpus()} free cores; {report['summary']['total_shots']} shots found"
        results.append(
            Result(f"cpu_bound_rtf_at_{fps:g}", _cpus() * duration / usage.cpu, "x", note)
        )
    return results


@benchmark("court")
def bench_court(ctx: Context) -> list[Result]:
    """Court detection on the clip's 720p frames: combined (as for a video) and one alone
    (a still from a phone). Decoding the frames is not counted."""
    frames = court_frames(ctx.clip.video)
    results = []
    for name, sample in (("cpu_s_per_detection", frames), ("cpu_s_per_still", frames[:1])):
        detect_court(sample)  # warm-up: first-call allocations
        with measure() as usage:
            for _ in range(COURT_REPEATS):
                found = detect_court(sample)
        note = f"{len(sample)} frame(s) {sample[0].shape[1]}x{sample[0].shape[0]}; {usage.note()}"
        if not found.found:
            note += "; no court found"
        results.append(Result(name, usage.cpu / COURT_REPEATS, "s", note))
    return results


# -- running ---------------------------------------------------------------------------


def run_isolated(stage: str, ctx: Context) -> list[Result]:
    """Runs one benchmark in a fresh process: no warm caches or threads left by another,
    and a peak RSS (ru_maxrss) of its own."""
    spawn = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(max_workers=1, mp_context=spawn) as pool:
        return pool.submit(_child, stage, ctx).result()


def _child(stage: str, ctx: Context) -> list[Result]:
    _import_benchmarks()
    results = BENCHMARKS[stage](ctx)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux
    return [*results, Result("max_rss_mb", peak, "MB", "ru_maxrss of the benchmark's process")]


def _import_benchmarks() -> None:
    for module in BENCHMARK_MODULES:
        importlib.import_module(module)


def machine_state() -> list[str]:
    load = os.getloadavg() if hasattr(os, "getloadavg") else (float("nan"),) * 3
    busy = _sample_busy(1.0)
    return [
        f"machine: {os.cpu_count()} CPUs ({_cpus()} usable), {_cpu_model()}",
        f"load average before the run: {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}"
        + (f"; busy right now: {busy:.1f} cores" if busy is not None else ""),
        f"python {platform.python_version()}, numpy {np.__version__}, av {av.__version__}, "
        f"opencv {_version('cv2')}, mediapipe {_version('mediapipe')}",
    ]


def _sample_busy(seconds: float) -> float | None:
    before = _machine_ticks()
    time.sleep(seconds)
    after = _machine_ticks()
    if before is None or after is None or after[1] <= before[1]:
        return None
    return (after[0] - before[0]) / (after[1] - before[1]) * _cpus()


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.machine()


def _version(module: str) -> str:
    try:
        return getattr(importlib.import_module(module), "__version__", "?")
    except ImportError:
        return "missing"


def print_results(stage: str, results: list[Result]) -> None:
    for r in results:
        note = f"  ({r.note})" if r.note else ""
        print(f"  {stage + '.' + r.name:<34} {r.value:9.2f} {r.unit:<9}{note}", flush=True)


def main(argv: list[str] | None = None) -> int:
    _import_benchmarks()
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", type=Path, default=None)
    parser.add_argument("--seconds", type=float, default=60.0, help="video length to analyse")
    parser.add_argument("--only", default="", help=f"comma-separated, of {','.join(BENCHMARKS)}")
    parser.add_argument("--analysis-fps", default="10,15,30", help="pose rates for 'analyze'")
    parser.add_argument("--json", type=Path, default=None, help="also write the results here")
    args = parser.parse_args(argv)

    chosen = [s for s in args.only.split(",") if s] or list(BENCHMARKS)
    unknown = [s for s in chosen if s not in BENCHMARKS]
    if unknown:
        parser.error(f"unknown benchmark(s) {unknown}; have {list(BENCHMARKS)}")
    root = (args.data or data_dir()).resolve()
    clip = next((c for c in aicup_clips(root) if c.name == CLIP), None)
    if clip is None or not clip.video.is_file():
        print(f"clip {CLIP} not found under {root}", file=sys.stderr)
        return 1

    machine = machine_state()
    print("\n".join(machine))
    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="bench-") as tmp:
        source = probe(clip.video)
        loops = max(1, round(args.seconds / source.duration))
        video = Path(tmp) / "looped.mp4"
        loop_video(clip.video, video, loops)
        info = probe(video)
        print(
            f"input: {clip.name}.mp4 x{loops} = {info.duration:.1f} s, {info.frames} frames, "
            f"{info.width}x{info.height} {info.codec} at {info.fps:g} fps"
        )
        ctx = Context(
            video=video,
            clip=clip,
            court=Court.from_mapping(clip.corners, (info.width, info.height)),
            size=(info.width, info.height),
            fps=info.fps,
            frames=info.frames,
            duration=info.duration,
            analysis_fps=tuple(float(v) for v in args.analysis_fps.split(",") if v),
        )
        for stage in chosen:
            print(f"{stage}:", flush=True)
            ctx.results[stage] = run_isolated(stage, ctx)
            print_results(stage, ctx.results[stage])
    print(f"bench took {time.perf_counter() - started:.0f} s")
    if args.json:
        payload = {
            "machine": machine,
            "results": {s: [asdict(r) for r in rs] for s, rs in ctx.results.items()},
        }
        args.json.write_text(json.dumps(payload, indent=1))
    return 0


if __name__ == "__main__":
    # Runs as `tools.bench`, the module that BENCHMARK_MODULES import and register into (as
    # `__main__` it would be a second copy whose registry never sees them).
    from tools import bench

    sys.exit(bench.main())
