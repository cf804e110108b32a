"""The API's declarative settings (``schemas/api.yaml``) and its errors, in the request's language."""

from __future__ import annotations

from functools import cache
from typing import Any

import yaml

from pipelines.core.settings import SCHEMAS


@cache
def api_spec() -> dict[str, Any]:
    return yaml.safe_load((SCHEMAS / "api.yaml").read_text(encoding="utf-8"))


class ApiError(Exception):
    """A bad request: HTTP status, a message key of schemas/api.yaml and its placeholders."""

    def __init__(self, status: int, key: str, headers: dict[str, str] | None = None, **params: Any) -> None:
        super().__init__(key)
        self.status, self.key, self.params, self.headers = status, key, params, headers or {}

    def problem(self, lang: str, instance: str) -> dict[str, Any]:
        """RFC 7807 problem details, as PxWebApi 2.0 answers errors."""
        spec = api_spec()
        lang = lang if lang in spec["languages"] else spec["default_language"]
        return {
            "type": "about:blank",
            "title": spec["titles"][self.status][lang],
            "status": self.status,
            "detail": spec["errors"][self.key][lang].format(**self.params),
            "instance": instance,
        }


def language(requested: str | None) -> str:
    spec = api_spec()
    if requested is None or requested == "":
        return spec["default_language"]
    if requested not in spec["languages"]:
        raise ApiError(400, "unknown_language", lang=requested[:20], known=", ".join(spec["languages"]))
    return requested
