"""The server's Prometheus metrics, counted where things happen (one process each: every node
is scraped on its own, and Prometheus's `instance` label tells the nodes apart).

Labels never hold a user, a job, a session, a token or a raw path: routes are their patterns.
"""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram

HTTP_REQUESTS = Counter(
    "badminton_http_requests",
    "HTTP requests answered, by method, route pattern and status",
    ["method", "route", "status"],
)
HTTP_LATENCY = Histogram(
    "badminton_http_request_duration_seconds",
    "Time to answer an HTTP request, by method and route pattern",
    ["method", "route"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30),
)
JOBS = Gauge("badminton_jobs", "Analysis jobs in the database, by state", ["state"])
QUEUE_DEPTH = Gauge("badminton_job_queue_depth", "Jobs waiting for a worker")
QUEUE_OLDEST = Gauge(
    "badminton_job_queue_oldest_seconds", "How long the longest-waiting queued job has waited"
)
JOB_DURATION = Histogram(
    "badminton_job_duration_seconds",
    "Run time of the analysis jobs this process ran, by outcome (done, failed)",
    ["outcome"],
    buckets=(10, 30, 60, 120, 300, 600, 1200, 1800, 3600, 7200, 14400, 21600),
)
LIVE_SESSIONS = Gauge("badminton_live_sessions", "Live sessions analysed on this node")
LIVE_LIMIT = Gauge("badminton_live_session_limit", "Live sessions this node takes at most")
LIVE_FRAMES = Counter("badminton_live_frames_analysed", "Live frames analysed on this node")
LIVE_FPS = Histogram(
    "badminton_live_analysed_fps",
    "Frames a second each live session gets analysed, sampled every 2 s while its phone sends",
    buckets=(1, 2, 3, 5, 7.5, 10, 12.5, 15, 20, 25, 30),
)
LIVE_LATENCY = Histogram(
    "badminton_live_latency_seconds",
    "Live frame received to its results sent (the server's end-to-end latency)",
    buckets=(0.025, 0.05, 0.075, 0.1, 0.15, 0.2, 0.3, 0.5, 0.75, 1, 2),
)
POSE_BUDGET_USE = Gauge(
    "badminton_live_pose_budget_use",
    "Share of LIVE_POSE_BUDGET the live sessions are given (1: all of it)",
)
DRAINING = Gauge("badminton_draining", "1 while this node drains before stopping")
