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
CMD ["badminton", "serve", "--host", "0.0.0.0", "--port", "8080"]
