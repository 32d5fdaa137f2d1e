import numpy as np
import pytest

from analysis.frame_rate import MAX_ANALYSIS_FPS, FrameRateCap


def admitted(times) -> list[float]:
    cap = FrameRateCap()
    return [t for t in times if cap.admits(float(t))]


@pytest.mark.parametrize("fps", [10.0, 15.0, 24.0, 25.0, 29.97, 30.0])
def test_video_up_to_the_cap_passes_whole(fps):
    times = np.arange(300) / fps
    assert admitted(times) == list(times)


@pytest.mark.parametrize(("fps", "every"), [(50.0, 2), (59.94, 2), (60.0, 2), (119.88, 4)])
def test_faster_video_is_thinned_to_evenly_spaced_frames(fps, every):
    times = np.arange(600) / fps
    assert admitted(times) == list(times[::every])


def test_no_input_is_analysed_much_faster_than_the_cap():
    for fps in (35.0, 48.0, 90.0, 100.0, 240.0, 960.0):
        kept = admitted(np.arange(2000) / fps)
        assert np.diff(kept).min() >= 0.8 / MAX_ANALYSIS_FPS - 1e-9


def test_the_wandering_frame_times_of_a_30_fps_phone_lose_no_frame():
    rng = np.random.default_rng(7)
    times = np.arange(900) / 30.0 + rng.uniform(-0.003, 0.003, 900)
    assert len(admitted(times)) == 900


def test_a_cap_must_be_positive():
    with pytest.raises(ValueError):
        FrameRateCap(0.0)


def test_the_cap_tells_the_time_of_the_last_frame_let_through():
    cap = FrameRateCap(10.0)
    assert cap.last is None
    for time in (0.0, 0.05, 0.1, 0.12):
        cap.admits(time)
    assert cap.last == 0.1
