"""JSON-stat 2.0 datasets: a table's metadata, and a selection's cube with the release's values and symbols.

The cube is dense over the selected codes (row-major, the last dimension fastest). A cell the release has gets
its value exactly as the Parquet holds it, null where hidden, and its symbol (``..``, ``-``, ``.``) in
``status``; a combination the table does not publish (a municipality's months) is null with no status.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from pipelines.api.releases import Published
from pipelines.api.selection import CODELISTS
from pipelines.api.spec import api_spec
from pipelines.api.tables import GEO, PERIOD, Dimension, Table
from pipelines.core.schemas import publishing_spec


def metadata(release: Published, table: Table, lang: str, base: str) -> dict[str, Any]:
    """The table's variables and codes (every code, no values): PxWebApi 2.0's ``/metadata``."""
    selection = {d.code: d.codes for d in table.dimensions}
    return {**_dataset(release, table, selection, lang, base), "value": {}}


def cube(
    release: Published, table: Table, selection: dict[str, list[str]], lang: str, base: str
) -> dict[str, Any]:
    mask, index = locate(table, selection)
    size = int(np.prod([len(codes) for codes in selection.values()]))
    values = np.full(size, None, dtype=object)
    values[index] = table.values[mask]
    statuses = table.statuses[mask]
    status = {str(i): s for i, s in zip(index.tolist(), statuses.tolist(), strict=True) if s}
    dataset = _dataset(release, table, selection, lang, base)
    dataset["value"] = values.tolist()
    if status:
        dataset["status"] = status
    return dataset


def locate(table: Table, selection: dict[str, list[str]]) -> tuple[np.ndarray, np.ndarray]:
    """(rows of the release in the selection, each one's position in the cube)."""
    mask = np.ones(table.rows.num_rows, dtype=bool)
    index = np.zeros(table.rows.num_rows, dtype=np.int64)
    for dim in table.dimensions:
        lookup = np.full(len(dim.codes) + 1, -1, dtype=np.int64)  # the last slot: codes not in the table
        wanted = selection[dim.code]
        lookup[[dim.codes.index(c) for c in wanted]] = np.arange(len(wanted))
        position = lookup[table.positions[dim.code]]
        mask &= position >= 0
        index = index * len(wanted) + np.maximum(position, 0)
    return mask, index[mask]


def _dataset(
    release: Published, table: Table, selection: dict[str, list[str]], lang: str, base: str
) -> dict[str, Any]:
    spec = api_spec()
    role = {"time": [PERIOD], "geo": [GEO]}
    if table.metric:
        role["metric"] = [table.metric]
    return {
        "version": "2.0",
        "class": "dataset",
        "href": f"{base}/tables/{table.id}/data?lang={lang}&release={release.release}",
        "label": f"{table.title[lang]} ({release.release})",
        "source": spec["source"][lang],
        "updated": release.updated,
        "note": notes(release, table, lang),
        "role": role,
        "id": list(selection),
        "size": [len(codes) for codes in selection.values()],
        "dimension": {d.code: _dimension(d, selection[d.code], lang, base) for d in table.dimensions},
        "extension": {
            "px": {"tableid": table.id, "language": lang, "contents": table.title[lang]},
            "release": release.release,
            "as_of_month": release.manifest["as_of_month"],
            "data": release.manifest.get("data", ""),
        },
    }


def notes(release: Published, table: Table, lang: str) -> list[str]:
    """The data warning, the table's note and what each symbol means (publishing.yaml's own texts)."""
    symbols = [f"{symbol} {text[lang]}" for symbol, text in publishing_spec()["symbols"].items()]
    warning = (
        [publishing_spec()["report"]["synthetic_banner"]]
        if "SYNTET" in release.manifest["data"].upper()
        else []
    )
    return [*warning, *table.notes[lang], *symbols, api_spec()["absent_note"][lang]]


def _dimension(dim: Dimension, codes: list[str], lang: str, base: str) -> dict[str, Any]:
    category: dict[str, Any] = {
        "index": {code: i for i, code in enumerate(codes)},
        "label": {code: dim.labels[lang][code] for code in codes},
    }
    if dim.units:
        category["unit"] = {code: dim.units[lang][code] for code in codes}
    extension: dict[str, Any] = {"elimination": dim.elimination is not None, "show": "value"}
    if dim.elimination is not None:
        extension["eliminationValueCode"] = dim.elimination
    extension["codelists"] = [codelist_info(cl, lang, base) for cl in dim.codelists]
    return {"label": dim.label[lang], "category": category, "extension": extension}


def codelist_info(codelist: str, lang: str, base: str) -> dict[str, Any]:
    return {
        "id": codelist,
        "label": codelist_label(codelist, lang),
        "type": "Valueset",
        "links": [{"rel": "metadata", "hreflang": lang, "href": f"{base}/codelists/{codelist}?lang={lang}"}],
    }


def codelist_label(codelist: str, lang: str) -> str:
    variable, kind = CODELISTS[codelist]
    pub, spec = publishing_spec(), api_spec()
    if variable == GEO:
        return pub["geo_levels"][kind] if lang == "sv" else spec["geo_levels_en"][kind]
    return pub["period_types"][kind] if lang == "sv" else spec["period_types_en"][kind]
