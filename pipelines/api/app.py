"""The Starlette application: PxWebApi 2.0 routes under ``/api/v2``, errors as problem details, never a 500 body
with a traceback."""

from __future__ import annotations

import json
import logging
import math
from collections.abc import Awaitable, Callable
from importlib.metadata import version
from typing import Any

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from pipelines.api import formats, jsonstat, releases, selection
from pipelines.api.ratelimit import RateLimit
from pipelines.api.spec import ApiError, api_spec, language
from pipelines.core.schemas import publishing_spec
from pipelines.core.settings import Paths

PREFIX = "/api/v2"
log = logging.getLogger("orostat.api")
Handler = Callable[[Request, str], Awaitable[Response]]


def create_app(
    home: Paths, calls: int | None = None, window: float | None = None, max_cells: int | None = None
) -> Starlette:
    """The API over ``home``'s published releases; the limits default to schemas/api.yaml's (tests lower them)."""
    spec = api_spec()
    max_cells = max_cells or spec["max_data_cells"]
    limit = RateLimit(calls or spec["max_calls_per_time_window"], window or spec["time_window"])

    def route(path: str, handler: Handler, methods: tuple[str, ...] = ("GET",)) -> Route:
        async def endpoint(request: Request) -> Response:
            lang = request.query_params.get("lang") or spec["default_language"]
            try:
                retry = limit.wait(request.client.host if request.client else "")
                if retry:
                    raise ApiError(
                        429,
                        "too_many_calls",
                        headers={"Retry-After": str(retry)},
                        calls=limit.calls,
                        window=limit.window,
                        retry=retry,
                    )
                lang = language(request.query_params.get("lang"))
                return await handler(request, lang)
            except ApiError as error:
                return _problem(error, lang, request)
            except Exception:  # a bug: logged here, a plain message to the caller
                log.exception("%s %s failed", request.method, request.url.path)
                return _problem(ApiError(500, "internal"), lang, request)

        return Route(PREFIX + path, endpoint, methods=list(methods))

    async def config(request: Request, lang: str) -> Response:
        return _json(_config(limit, max_cells))

    async def tables(request: Request, lang: str) -> Response:
        return _json(_tables(home, request, lang))

    async def table(request: Request, lang: str) -> Response:
        release = _release(home, request)
        t = releases.table(release, request.path_params["id"])
        return _json({**_table_info(release, t, lang, _base(request)), "language": lang})

    async def metadata(request: Request, lang: str) -> Response:
        release = _release(home, request)
        t = releases.table(release, request.path_params["id"])
        return _json(jsonstat.metadata(release, t, lang, _base(request)))

    async def default_selection(request: Request, lang: str) -> Response:
        t = releases.table(_release(home, request), request.path_params["id"])
        chosen = selection.default(t)
        items = [{"variableCode": v, "valueCodes": codes} for v, codes in chosen.items()]
        return _json({"selection": items, "language": lang, "links": []})

    async def data(request: Request, lang: str) -> Response:
        release = _release(home, request)
        t = releases.table(release, request.path_params["id"])
        output = request.query_params.get("outputFormat") or request.query_params.get("outputformat")
        output = output or "json-stat2"
        if output not in spec["data_formats"]:
            raise ApiError(400, "bad_format", format=output[:30], known=", ".join(spec["data_formats"]))
        if request.method == "POST":
            items = selection.from_body(await request.body())
        else:
            items = selection.from_query(request.query_params)
        chosen = selection.resolve(t, items, max_cells)
        if output == "json-stat2":
            return _json(jsonstat.cube(release, t, chosen, lang, _base(request)))
        mask, _ = jsonstat.locate(t, chosen)
        body = formats.write(t.rows.filter(mask), output)
        name = f"{t.id}_{release.release}.{output}"
        return Response(
            body,
            media_type=formats.MEDIA[output],
            headers={"Content-Disposition": f'attachment; filename="{name}"'},
        )

    async def codelist(request: Request, lang: str) -> Response:
        return _json(_codelist(home, request, lang))

    routes = [
        route("/config", config),
        route("/tables", tables),
        route("/tables/{id}", table),
        route("/tables/{id}/metadata", metadata),
        route("/tables/{id}/defaultselection", default_selection),
        route("/tables/{id}/data", data, ("GET", "POST")),
        route("/codelists/{id}", codelist),
    ]

    async def not_found(request: Request, exc: HTTPException) -> Response:
        lang = request.query_params.get("lang", "")  # unknown paths and methods alike
        return _problem(ApiError(404, "not_found", path=request.url.path[:200]), lang, request)

    return Starlette(routes=routes, exception_handlers={HTTPException: not_found})


def _json(payload: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    body = json.dumps(payload, ensure_ascii=False, separators=(",", ":"), allow_nan=False)
    return Response(body, status_code=status, media_type="application/json; charset=utf-8", headers=headers)


def _problem(error: ApiError, lang: str, request: Request) -> Response:
    body = json.dumps(error.problem(lang, request.url.path), ensure_ascii=False)
    return Response(body, error.status, headers=error.headers, media_type="application/problem+json")


def _base(request: Request) -> str:
    return str(request.base_url).rstrip("/") + PREFIX


def _release(home: Paths, request: Request) -> releases.Published:
    return releases.published(home, request.query_params.get("release"))


def _config(limit: RateLimit, max_cells: int) -> dict[str, Any]:
    spec = api_spec()
    return {
        "apiVersion": spec["api_version"],
        "appVersion": f"orostat {version('orostat')}",
        "languages": [{"id": lang, "label": label} for lang, label in spec["languages"].items()],
        "defaultLanguage": spec["default_language"],
        "maxDataCells": max_cells,
        "maxCallsPerTimeWindow": limit.calls,
        "timeWindow": limit.window,
        "license": publishing_spec()["report"]["licence"]["name"],  # the release's own licence
        "sourceReferences": [{"language": k, "text": v} for k, v in spec["source"].items()],
        "defaultDataFormat": spec["data_formats"][0],
        "dataFormats": spec["data_formats"],
        "features": [],
    }


def _table_info(release: releases.Published, table: Any, lang: str, base: str) -> dict[str, Any]:
    periods = table.dimension("period").codes  # months, quarters, years: the first type is the finest
    finest = [p for p in periods if len(p) == len(periods[0])]
    return {
        "type": "Table",
        "id": table.id,
        "label": table.title[lang],
        "description": " ".join(table.notes[lang]),
        "updated": release.updated,
        "firstPeriod": min(finest),
        "lastPeriod": max(finest),
        "category": "public",
        "variableNames": [d.code for d in table.dimensions],
        "discontinued": False,
        "source": api_spec()["source"][lang],
        "timeUnit": "Monthly" if any(len(p) == 7 and p[5] != "Q" for p in periods) else "Annual",
        "paths": [],
        "links": [
            {"rel": "self", "hreflang": lang, "href": f"{base}/tables/{table.id}?lang={lang}"},
            {"rel": "metadata", "hreflang": lang, "href": f"{base}/tables/{table.id}/metadata?lang={lang}"},
            {"rel": "data", "hreflang": lang, "href": f"{base}/tables/{table.id}/data?lang={lang}"},
        ],
    }


def _positive(request: Request, name: str, default: int) -> int:
    value = request.query_params.get(name)
    if value is None:
        return default
    if not value.isdigit() or int(value) < 1:
        raise ApiError(400, "bad_number", name=name, value=value[:20])
    return int(value)


def _tables(home: Paths, request: Request, lang: str) -> dict[str, Any]:
    release = _release(home, request)
    base = _base(request)
    found = [_table_info(release, t, lang, base) for t in release.tables.values()]
    query = (request.query_params.get("query") or "").casefold()
    if query:
        found = [t for t in found if query in f"{t['id']} {t['label']} {t['description']}".casefold()]
    size = _positive(request, "pageSize", api_spec()["page_size"])
    number = _positive(request, "pageNumber", 1)
    pages = max(1, math.ceil(len(found) / size))
    page = found[(number - 1) * size : number * size]
    return {
        "language": lang,
        "tables": page,
        "page": {"pageNumber": number, "pageSize": size, "totalElements": len(found), "totalPages": pages},
        "links": [{"rel": "self", "hreflang": lang, "href": str(request.url)}],
    }


def _codelist(home: Paths, request: Request, lang: str) -> dict[str, Any]:
    ident = request.path_params["id"]
    if ident not in selection.CODELISTS:
        known = ", ".join(selection.CODELISTS)
        raise ApiError(404, "unknown_codelist", codelist=ident[:60], where="", known=known)
    release = _release(home, request)
    variable, _ = selection.CODELISTS[ident]
    labels: dict[str, str] = {}
    for t in release.tables.values():
        dim = t.dimension(variable)
        labels.update(
            {c: dim.labels[lang][c] for c in dim.codes if selection.in_codelist(variable, ident, c)}
        )
    values = [{"code": c, "label": labels[c], "valueMap": [c]} for c in sorted(labels)]
    return {
        "id": ident,
        "label": jsonstat.codelist_label(ident, lang),
        "language": lang,
        "languages": list(api_spec()["languages"]),
        "elimination": False,
        "type": "Valueset",
        "values": values,
        "links": [
            {"rel": "self", "hreflang": lang, "href": f"{_base(request)}/codelists/{ident}?lang={lang}"}
        ],
    }
