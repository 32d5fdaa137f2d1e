# Badminton Analyzer server image.
FROM python:3.11-slim-bookworm

# ffmpeg libraries come with PyAV's wheel; OpenCV (pulled in by MediaPipe) needs GL and glib.
RUN apt-get update \
    && apt-get install -y --no-install-recommends libgl1 libglib2.0-0 \
    && rm -rf /var/lib/apt/lists/*

WORKDIR /app
COPY pyproject.toml README.md ./
COPY analysis ./analysis
COPY server ./server
COPY storage ./storage
COPY static ./static
RUN pip install --no-cache-dir .

ENV DATA_DIR=/data STATIC_DIR=/app/static
RUN mkdir -p /data && chown nobody /data
VOLUME ["/data"]
# WebRTC media uses UDP ports of its own: run with host networking, or give phones a TURN
# relay (coturn with turn.conf; TURN_SECRET and TURN_URLS) that can reach this container.
EXPOSE 8080
USER nobody
# Liveness, not readiness: /api/v1/health answers while the process serves, so Docker (or ECS)
# restarts only a hung node. /api/v1/ready also fails when Redis, the database or S3 is down,
# or while the node drains after SIGTERM, and restarting nodes for that would make an outage
# worse or cut live sessions short: it is the load balancer's check. Python asks, no curl.
HEALTHCHECK --interval=15s --timeout=5s --start-period=60s --retries=3 \
    CMD ["python", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8080/api/v1/health', timeout=4)"]
CMD ["badminton", "serve", "--host", "0.0.0.0", "--port", "8080"]
