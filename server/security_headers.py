"""Security headers on every response: a strict Content-Security-Policy (scripts and styles
only from the server's own files, nothing inline), no MIME sniffing, no framing, no Referer."""

from __future__ import annotations

from urllib.parse import urlsplit

from aiohttp import web

from server.config import Settings


def storage_origins(settings: Settings) -> list[str]:
    """Origins the pages load videos and heatmaps from and upload to, besides the server."""
    origins = []
    if settings.cloudfront_domain:
        origins.append(f"https://{settings.cloudfront_domain.strip('/')}")
    if settings.s3_bucket and settings.s3_endpoint_url:
        endpoint = urlsplit(settings.s3_endpoint_url)
        # Path-style (host/bucket/key) or virtual-hosted (bucket.host/key) addressing.
        origins += [
            f"{endpoint.scheme}://{endpoint.netloc}",
            f"{endpoint.scheme}://{settings.s3_bucket}.{endpoint.netloc}",
        ]
    elif settings.s3_bucket:
        bucket, region = settings.s3_bucket, settings.aws_region
        origins += [
            f"https://{bucket}.s3.amazonaws.com",
            f"https://{bucket}.s3.{region}.amazonaws.com",
            f"https://s3.{region}.amazonaws.com",
        ]
    return origins


def content_security_policy(settings: Settings) -> str:
    storage = " ".join(storage_origins(settings))
    directives = [
        "default-src 'self'",
        "script-src 'self'",
        "style-src 'self'",
        f"img-src 'self' data: blob: {storage}",
        f"media-src 'self' blob: {storage}",
        f"connect-src 'self' {storage}",
        "object-src 'none'",
        "base-uri 'none'",
        "form-action 'self'",
        "frame-ancestors 'none'",
    ]
    return "; ".join(d.strip() for d in directives)


def security_headers(settings: Settings) -> dict[str, str]:
    return {
        "Content-Security-Policy": content_security_policy(settings),
        "X-Content-Type-Options": "nosniff",
        "X-Frame-Options": "DENY",
        # Signed URLs and viewer links must not leak to other sites through the Referer.
        "Referrer-Policy": "no-referrer",
    }


def install(app: web.Application, settings: Settings) -> None:
    """Adds the headers to every response the app sends: pages, files, API and errors."""
    headers = security_headers(settings)

    async def add_headers(request: web.Request, response: web.StreamResponse) -> None:
        for name, value in headers.items():
            response.headers.setdefault(name, value)

    app.on_response_prepare.append(add_headers)
