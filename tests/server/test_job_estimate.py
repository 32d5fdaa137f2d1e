"""How long a running job still needs, as the job list shows it."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from server.jobs import remaining_seconds
from server.models import Job, JobStatus

NOW = datetime(2026, 5, 1, 12, 0, 0, tzinfo=UTC)


def job(status: str, progress: float, started_s_ago: float | None) -> Job:
    started = None if started_s_ago is None else NOW - timedelta(seconds=started_s_ago)
    return Job(
        owner_id="u1",
        filename="match.mp4",
        content_type="video/mp4",
        size=1,
        storage_type="local",
        s3_video_key="k",
        s3_output_prefix="p",
        status=status,
        progress=progress,
        started_at=started,
    )


def test_estimate_scales_the_time_so_far_by_the_progress():
    # A quarter done after a minute: three more minutes.
    assert remaining_seconds(job(JobStatus.RUNNING, 0.25, 60), NOW) == pytest.approx(180)
    assert remaining_seconds(job(JobStatus.RUNNING, 0.9, 900), NOW) == pytest.approx(100)


def test_naive_start_times_are_utc():
    naive = job(JobStatus.RUNNING, 0.5, 30)
    naive.started_at = naive.started_at.replace(tzinfo=None)
    assert remaining_seconds(naive, NOW) == pytest.approx(30)


@pytest.mark.parametrize(
    ("status", "progress", "started_s_ago"),
    [
        (JobStatus.QUEUED, 0.0, None),
        (JobStatus.RUNNING, 0.0, 5),  # too early to tell
        (JobStatus.RUNNING, 0.01, 5),
        (JobStatus.RUNNING, 0.5, None),
        (JobStatus.DONE, 1.0, 60),
        (JobStatus.FAILED, 0.3, 60),
    ],
)
def test_no_estimate_when_not_running_or_too_early(status, progress, started_s_ago):
    assert remaining_seconds(job(status, progress, started_s_ago), NOW) is None
