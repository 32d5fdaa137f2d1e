"""Server settings, read from environment variables."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Settings:
    host: str = "127.0.0.1"
    port: int = 8080
    data_dir: Path = Path("data")
    static_dir: Path = Path(__file__).resolve().parents[1] / "static"
    max_request_bytes: int = 1024 * 1024  # JSON bodies; video bytes never pass through here

    @classmethod
    def from_env(cls, env: dict[str, str] | None = None) -> Settings:
        env = dict(os.environ if env is None else env)
        return cls(
            host=env.get("HOST", cls.host),
            port=int(env.get("PORT", cls.port)),
            data_dir=Path(env.get("DATA_DIR", "data")),
        )
