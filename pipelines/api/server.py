"""``orostat serve``: the API on uvicorn."""

from __future__ import annotations

import uvicorn

from pipelines.api.app import create_app
from pipelines.core.settings import paths


def serve(host: str, port: int) -> None:
    """Serve the published releases of $OROSTAT_HOME until interrupted (read-only)."""
    uvicorn.run(create_app(paths()), host=host, port=port, log_level="info")
