"""The live load benchmark: the phones' video, the client-side round trips, the numbers and
the verdict drawn from a run, and one short real run against a server process."""

from __future__ import annotations

import fractions
from pathlib import Path

import av
import numpy as np
import pytest

from tools.bench import Result
from tools.bench_live import LiveOptions, recording_cost, summarize, verdict
from tools.dataset import aicup_clips
from tools.live_load import (
    KEYFRAME_S,
    LoadRun,
    Publisher,
    Sample,
    prepare_input,
    quality_for,
    run_load,
)

FPS = 10.0


@pytest.fixture(scope="module")
def source(tmp_path_factory) -> Path:
    """3 s of 30 fps video whose frames all differ."""
    path = tmp_path_factory.mktemp("src") / "src.mp4"
    with av.open(str(path), mode="w") as out:
        stream = out.add_stream("libx264", rate=30)
        stream.width, stream.height, stream.pix_fmt = 160, 96, "yuv420p"
        for i in range(90):
            image = np.full((96, 160, 3), i * 2, np.uint8)
            image[:, i : i + 10] = 255
            frame = av.VideoFrame.from_ndarray(image, format="rgb24")
            out.mux(stream.encode(frame))
        out.mux(stream.encode(None))
    return path


@pytest.fixture(scope="module")
def phone_video(source, tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("phone") / "phone.ts"
    length = prepare_input(source, path, FPS, 800, 7.0)
    assert length == pytest.approx(9.0)  # whole loops of the 3 s clip
    return path


def nal_types(data: bytes) -> list[int]:
    return [data[i + 3] & 31 for i in range(len(data) - 3) if data[i : i + 3] == b"\0\0\1"]


def test_phone_video_is_annex_b_h264_at_the_rate_with_regular_keyframes(phone_video):
    with av.open(str(phone_video)) as container:
        assert container.format.name == "mpegts"
        stream = container.streams.video[0]
        assert stream.codec_context.name == "h264"
        assert stream.time_base == fractions.Fraction(1, 90_000)  # RTP's video clock
        packets = [p for p in container.demux(stream) if p.size]
    assert len(packets) == 90
    times = [float(p.pts * p.time_base) for p in packets]
    assert np.allclose(np.diff(times), 1 / FPS)  # looped without a gap or an overlap
    assert all(p.pts == p.dts for p in packets)  # no B-frames: sent in display order
    keyframes = [t - times[0] for t, p in zip(times, packets) if p.is_keyframe]
    assert keyframes == pytest.approx([0, 2, 3, 5, 6, 8])  # every 2 s, and at each loop
    for packet in packets:
        types = nal_types(bytes(packet))
        assert types, "no start codes: not Annex B"
        # SPS and PPS before every keyframe: a receiver can start at any of them.
        assert ({7, 8, 5} <= set(types)) == packet.is_keyframe


def test_options_from_the_environment():
    default = LiveOptions.from_env({})
    assert default.streams == (1, 2, 4, 8) and default.fps == 10
    assert [default.duration(n) for n in (1, 4, 8)] == [90, 300, 90]
    chosen = LiveOptions.from_env(
        {"BENCH_LIVE_STREAMS": "2, 4", "BENCH_LIVE_FPS": "15", "BENCH_LIVE_SECONDS": "30"}
    )
    assert chosen.streams == (2, 4) and chosen.fps == 15 and chosen.duration(4) == 30
    assert quality_for(10) == ("medium", 800)
    assert quality_for(30)[0] == "max"
    with pytest.raises(ValueError, match="no quality preset streams at 12 fps"):
        quality_for(12)


def fill(publisher: Publisher, start: float, sent: int, latency: float) -> None:
    """Frames 0..sent-1 handed over at `start` + t, each frame's messages back `latency`
    later, and now and then a shot about an older frame."""
    for i in range(sent):
        t = i / FPS
        publisher.track.sent_times.append(t)
        publisher.track.sent_at.append(start + t)
        back = start + t + latency
        publisher.received.append((back, {"type": "stats_update", "timestamp": round(t, 3)}))
        position = {"type": "position_update", "timestamp": t}  # not rounded: the same frame
        publisher.received.append((back + 0.01, position))
        if i % 50 == 49:  # decided 5 s after its frame: not a round trip
            old = {"type": "shot_detected", "timestamp": round(t - 5, 3)}
            publisher.received.append((back, old))


def live(p50: float, p95: float, dropped: int) -> dict:
    return {
        "fps": {"received": 10.0, "analysed": 9.0},
        "frames_dropped": dropped,
        "latency_ms": {"p50": p50, "p95": p95, "window_s": 60},
    }


@pytest.fixture
async def publishers(phone_video):
    made = [Publisher(None, phone_video) for _ in range(4)]  # type: ignore[arg-type]
    yield made
    for publisher in made:
        await publisher.close()


async def test_round_trips_pair_each_frame_with_its_first_message(publishers):
    publisher = publishers[0]
    fill(publisher, start=100.0, sent=100, latency=0.2)
    assert publisher.first_stats_time() == 0.0
    trips = publisher.round_trips(tolerance=0.5 / FPS)
    assert len(trips) == 100  # one per frame; the shots' old timestamps are not frames
    assert [rt for _, rt in trips] == pytest.approx([0.2] * 100)
    assert publisher.track.handed_at(0.35, 0.01) is None  # between frames
    assert publisher.track.handed_at(0.3001, 0.05) == pytest.approx(100.3)


def a_run(publishers, seconds: float, p95_first: float, p95_last: float, n: int = 2) -> LoadRun:
    """n streams; the last one's latency is p95_first up to 60 s and p95_last after, and its
    first stats update is not at 0 s (as if the server started at a later frame)."""
    run = LoadRun(n=n, seconds=seconds, started=100.0, rss_idle_mb=180.0)
    run.publishers = publishers[:n]
    for publisher in run.publishers[:-1]:
        fill(publisher, 100.0, int(seconds * FPS), latency=0.15)
    fill(run.publishers[-1], 100.0, int(seconds * FPS), latency=0.3)
    run.publishers[-1].received[0] = (100.2, {"type": "stats_update", "timestamp": 2.0})
    for t in range(0, int(seconds) + 1, 5):
        p95 = p95_first if t <= 60 else p95_last
        lives: list[dict | None] = [*(live(50, 90, t) for _ in range(n - 1)), live(60, p95, t)]
        run.samples.append(Sample(float(t), cpu_s=t * 1.5, rss_mb=200 + t, live=lives))
    return run


async def test_a_run_summarized(publishers):
    run = a_run(publishers, 300.0, p95_first=100.0, p95_last=140.0)
    values = {r.name: r.value for r in summarize(run, FPS)}
    assert values["n2_server_latency_p50_first_ms"] == 55  # median of the streams
    assert values["n2_server_latency_p95_first_ms"] == 100  # the worst stream, at 60 s
    assert values["n2_server_latency_p95_last_ms"] == 140  # at the end
    # The second stream's first stats update is not at 0 s: its round trips are not counted.
    assert values["n2_round_trip_p95_first_ms"] == pytest.approx(150)
    assert values["n2_round_trip_p50_last_ms"] == pytest.approx(150)
    assert values["n2_server_cpu_first_cores"] == pytest.approx(1.5)
    assert values["n2_server_rss_end_mb"] == 500
    assert values["n2_dropped_share"] == pytest.approx(100 * 600 / 6000)
    assert values["n2_analysed_fps"] == 9
    assert values["n2_messages_per_s"] == pytest.approx(20, abs=0.2)


@pytest.mark.parametrize(
    "seconds, p95_first, p95_last, met, says",
    [
        (300, 100, 115, 1.0, "growth: no"),
        (300, 100, 140, 0.0, "growth: YES"),  # +40%
        (300, 140, 160, 0.0, "< 150: NO"),
        (300, 5, 12, 1.0, "growth: no"),  # more than 20% but only 7 ms
        (120, 100, 100, 0.0, "not judged"),
    ],
)
async def test_verdict(publishers, seconds, p95_first, p95_last, met, says):
    run = a_run(publishers, seconds, p95_first, p95_last, n=4)  # the target's count
    results: list[Result] = summarize(run, FPS)
    outcome = verdict(results, seconds)
    assert outcome.value == met
    assert says in outcome.note


async def test_a_real_run_against_a_server_process(shared_data, tmp_path):
    clip = next(c for c in aicup_clips(shared_data) if c.name == "00008")
    video = tmp_path / "phone.ts"
    prepare_input(clip.video, video, FPS, 800, 12.0)
    run = await run_load(1, 4.0, video, "medium", (clip.corners, (1280, 720)), tmp_path)
    (publisher,) = run.publishers
    assert publisher.first_stats_time() == 0.0  # the server's clock starts at our first frame
    trips = [rt for _, rt in publisher.round_trips(0.5 / FPS)]
    assert len(trips) >= 3 and 0 < min(trips) and max(trips) < 5
    final = run.samples[-1].live[0]
    assert final is not None and final["fps"]["received"] > 5
    assert run.samples[-1].cpu_s > run.samples[0].cpu_s and run.hwm_mb > run.rss_idle_mb
    assert run.warmup_s > 0 and run.end_s > 0
    values = {r.name: r.value for r in summarize(run, FPS)}
    assert values["n1_analysed_fps"] > 0


async def test_recording_cost_compares_the_analysed_rates(publishers):
    plain, recorded = (a_run(publishers, 120.0, 100, 100) for _ in range(2))
    for sample in recorded.samples:
        for status in sample.live:
            status["fps"]["analysed"], status["recording"] = 8.1, True
    plain.other_cores, recorded.other_cores = 0.2, 0.4
    results = {r.name: r for r in recording_cost("n2_medium", plain, recorded)}
    assert results["n2_medium_analysed_fps"].value == 9
    assert results["n2_medium_recording_analysed_fps"].value == pytest.approx(8.1)
    assert "2 of 2 recording" in results["n2_medium_recording_analysed_fps"].note
    assert "other load 0.2 and 0.4 cores" in results["n2_medium_recording_analysed_fps"].note
    ratio = results["n2_medium_recording_ratio"]
    assert ratio.value == pytest.approx(0.9) and "target >= 0.95: NO" in ratio.note


async def test_a_real_run_recording_every_stream(shared_data, tmp_path):
    clip = next(c for c in aicup_clips(shared_data) if c.name == "00008")
    video = tmp_path / "phone.ts"
    prepare_input(clip.video, video, FPS, 800, 12.0)
    court = (clip.corners, (1280, 720))
    run = await run_load(1, 4.0, video, "medium", court, tmp_path, record=True)
    assert all(sample.live[0]["recording"] for sample in run.samples)
    (stored,) = (tmp_path / "data-1-recording").rglob("recordings/*.mp4")
    with av.open(str(stored)) as container:
        frames = sum(1 for _ in container.decode(video=0))
    # The measured part from the phone's next keyframe on (these phones send one every 2 s
    # and cannot answer a request for one).
    assert frames >= (4 - KEYFRAME_S) * FPS
