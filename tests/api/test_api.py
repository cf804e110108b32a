"""The open-data API read by the real clients (pxwebpy, pyjstat) from a real server: every value and status
equals the release's Parquet, the JSON-stat is valid, and every bad request gets a clear error."""

from __future__ import annotations

import io
import json
import math
from pathlib import Path

import jsonschema
import openpyxl
import pandas as pd
import pyarrow.parquet as pq
import pytest
import requests
from pxweb import PxApi
from pyjstat import pyjstat

from pipelines.core.settings import Paths
from pipelines.stage6_publishing.release_tables import published_folder, table_order
from tests.api.conftest import RELEASE

pytestmark = pytest.mark.slow
SCHEMA = json.loads((Path(__file__).parent / "jsonstat2.schema.json").read_text("utf-8"))


def _release(home: Paths, name: str) -> pd.DataFrame:
    return pd.read_parquet(published_folder(home, RELEASE) / "tabeller" / f"{name}.parquet")


def _tables(home: Paths) -> list[str]:
    folder = published_folder(home, RELEASE) / "tabeller"
    return [name for name in table_order() if (folder / f"{name}.parquet").exists()]


def _valid(dataset: dict) -> dict:
    """JSON Schema, then what a schema cannot say: sizes, indexes and values agree."""
    jsonschema.validate(dataset, SCHEMA)
    assert len(dataset["id"]) == len(dataset["size"]) and set(dataset["id"]) == set(dataset["dimension"])
    for dim, size in zip(dataset["id"], dataset["size"], strict=True):
        category = dataset["dimension"][dim]["category"]
        assert sorted(category["index"].values()) == list(range(size)) and set(category["label"]) == set(
            category["index"]
        )
    cells = math.prod(dataset["size"])
    if isinstance(dataset["value"], list):
        assert len(dataset["value"]) == cells
    assert all(0 <= int(i) < cells for i in dataset.get("status", {}))
    return dataset


def _cells(dataset: dict) -> dict[tuple[str, ...], tuple[object, str]]:
    """Every cell of a cube by its codes: (value, status) as served."""
    codes = [
        sorted(
            dataset["dimension"][d]["category"]["index"], key=dataset["dimension"][d]["category"]["index"].get
        )
        for d in dataset["id"]
    ]
    keys = pd.MultiIndex.from_product(codes).tolist()
    status = dataset.get("status", {})
    return {key: (dataset["value"][i], status.get(str(i), "")) for i, key in enumerate(keys)}


def _get(api: str, path: str, **params: str) -> requests.Response:
    return requests.get(api + path, params=params, timeout=30)


def test_pxwebpy_lists_the_tables_and_fetches_a_selection_with_wildcards(api: str, published: Paths) -> None:
    px = PxApi(api, language="en")
    assert px.number_of_tables == len(_tables(published))
    assert [t["id"] for t in px.all_tables()] == _tables(published)
    assert px.search(query="outcome")["page"]["totalElements"] >= 1
    variables = px.get_table_variables("outcomes")
    assert variables["outcome"]["label"] == "Outcome" and variables["outcome"]["elimination"] is True
    rows = px.get_table_data(
        "outcomes",
        value_codes={"geo_code": ["20*"], "outcome": ["total", "undecided"], "period": ["*"]},
        show="code",
    )
    frame = _release(published, "outcomes")
    expected = frame[frame["geo_code"].str.startswith("20") & frame["outcome"].isin(["total", "undecided"])]
    by_key = {(r.geo_code, r.outcome, r.period): r.value for r in expected.itertuples()}
    got = {(r["Region"], r["Outcome"], r["Period"]): r["value"] for r in rows}
    assert len(by_key) > 0 and set(by_key) <= set(got)
    for key, value in got.items():
        want = by_key.get(key)
        assert (value is None and (want is None or pd.isna(want))) or value == want, key


@pytest.mark.parametrize("lang", ["sv", "en"])
def test_every_table_whole_equals_the_release_cell_by_cell(api: str, published: Paths, lang: str) -> None:
    hidden = 0
    for name in _tables(published):
        dims = json.loads(_get(api, f"/tables/{name}/metadata", lang=lang).text)["id"]
        query = {f"valuecodes[{d}]": "*" for d in dims} | {"lang": lang}
        response = _get(api, f"/tables/{name}/data", **query)
        assert response.status_code == 200, response.text
        cells = _cells(_valid(response.json()))
        frame = _release(published, name)
        rows = pq.read_table(
            published_folder(published, RELEASE) / "tabeller" / f"{name}.parquet"
        ).to_pylist()
        for row in rows:  # Python values exactly as the Parquet holds them (int or float, None where hidden)
            key = tuple(row[d] for d in dims)
            value, status = cells.pop(key)
            assert value == row["value"] and type(value) is type(row["value"]), (name, key)
            assert status == row["status"], (name, key)
        hidden += int((frame["status"] == "..").sum())
        assert all(v is None and s == "" for v, s in cells.values()), name  # combinations not published
    assert hidden > 0  # the release hides cells: the test saw '..' survive the trip


def test_pyjstat_reads_values_and_symbols(api: str, published: Paths) -> None:
    url = f"{api}/tables/outcomes/data?valuecodes[geo_code]=*&valuecodes[outcome]=*&valuecodes[period]=*"
    dataset = pyjstat.Dataset.read(url)
    values = dataset.write("dataframe", naming="id")
    statuses = pyjstat.Dataset.read(url).write("dataframe", naming="id", value="status")
    served = values.assign(status=statuses["status"].fillna("")).set_index(["geo_code", "outcome", "period"])
    frame = _release(published, "outcomes").set_index(["geo_code", "outcome", "period"])
    joined = frame.join(served.add_suffix("_api"), how="left")
    assert joined["status"].eq(joined["status_api"]).all()
    assert (joined["value"].isna() == joined["value_api"].isna()).all()
    shown = joined["value"].notna()
    assert (joined.loc[shown, "value"].astype(float) == joined.loc[shown, "value_api"]).all()
    assert (joined.loc[joined["status"] == "..", "value_api"].isna()).all()


def test_metadata_in_both_languages_with_elimination_code_lists_and_symbol_notes(api: str) -> None:
    sv, en = (_valid(_get(api, "/tables/reporters/metadata", lang=lang).json()) for lang in ("sv", "en"))
    assert (
        sv["dimension"]["reporter_group"]["label"] == "Anmälare"
        and en["dimension"]["reporter_group"]["label"] == "Reporter"
    )
    assert sv["dimension"]["reporter_group"]["category"]["label"]["polis"] == "Polis"
    assert en["dimension"]["reporter_group"]["category"]["label"]["polis"] == "Police"
    geo = en["dimension"]["geo_code"]["extension"]
    assert geo["elimination"] and geo["eliminationValueCode"] == "00"
    assert {c["id"] for c in geo["codelists"]} == {"vs_riket", "vs_lan", "vs_kommun"}
    assert not en["dimension"]["period"]["extension"]["elimination"]
    assert any(n.startswith("..") and "Suppressed" in n for n in en["note"])
    assert any(n.startswith("..") and "sekretess" in n for n in sv["note"])
    rates = _valid(_get(api, "/tables/rates/metadata").json())
    assert rates["role"]["metric"] == ["rate"] and "unit" in rates["dimension"]["rate"]["category"]


def test_code_lists_for_geography_levels_and_periods(api: str, published: Paths) -> None:
    frame = _release(published, "outcomes")
    kommuner = _get(api, "/codelists/vs_kommun").json()
    assert [v["code"] for v in kommuner["values"]] == sorted(
        frame.loc[frame["geo_level"] == "kommun", "geo_code"].unique()
    )
    months = [v["code"] for v in _get(api, "/codelists/vs_month").json()["values"]]
    assert months == sorted(frame.loc[frame["period_type"] == "month", "period"].unique())
    body = {
        "selection": [
            {"variableCode": "geo_code", "codelist": "vs_lan", "valueCodes": ["*"]},
            {"variableCode": "period", "codelist": "vs_quarter", "valueCodes": ["top(2)"]},
        ]
    }
    dataset = _valid(requests.post(f"{api}/tables/outcomes/data", json=body, timeout=30).json())
    assert list(dataset["dimension"]["geo_code"]["category"]["index"]) == sorted(
        frame.loc[frame["geo_level"] == "lan", "geo_code"].unique()
    )
    quarters = sorted(frame.loc[frame["period_type"] == "quarter", "period"].unique())
    assert list(dataset["dimension"]["period"]["category"]["index"]) == quarters[-2:]
    assert dataset["id"] == ["geo_code", "outcome", "period"] and dataset["size"][1] == 1  # outcome -> total


@pytest.mark.parametrize("output", ["csv", "xlsx", "parquet"])
def test_row_formats_hold_the_releases_rows(api: str, published: Paths, output: str) -> None:
    response = _get(
        api,
        "/tables/outcomes/data",
        **{
            "valuecodes[geo_code]": "01*,20*",
            "valuecodes[outcome]": "*",
            "valuecodes[period]": "*",
            "outputFormat": output,
        },
    )
    assert response.status_code == 200, response.text
    frame = _release(published, "outcomes")
    expected = frame[frame["geo_code"].str.match(r"(01|20)")].reset_index(drop=True)
    if output == "parquet":
        got = pd.read_parquet(io.BytesIO(response.content))
    elif output == "csv":
        got = pd.read_csv(io.BytesIO(response.content), dtype=str, keep_default_na=False)
        exact = pq.read_table(
            published_folder(published, RELEASE) / "tabeller" / "outcomes.parquet"
        ).to_pylist()
        wanted = [r for r in exact if r["geo_code"][:2] in ("01", "20")]  # Python values: ints print as ints
        # booleans (the preliminary flag) as a machine CSV writes them: true/false
        text = lambda v: "" if v is None else str(v).lower() if isinstance(v, bool) else str(v)  # noqa: E731
        expected = pd.DataFrame([{k: text(v) for k, v in r.items()} for r in wanted])
    else:
        rows = list(openpyxl.load_workbook(io.BytesIO(response.content)).active.values)
        got = pd.DataFrame(rows[1:], columns=rows[0]).fillna({"status": ""})
    assert len(got) == len(expected) > 0
    pd.testing.assert_frame_equal(got.reset_index(drop=True), expected, check_dtype=False)


BAD = [
    ("GET", "/tables/no_such_table", {}, None, 404, "no_such_table"),
    ("GET", "/tables/..%2F..%2Fmanifest/data", {}, None, 404, None),
    ("GET", "/tables/outcomes/data", {"release": "../../../etc"}, None, 400, "../../../etc"),
    ("GET", "/tables/outcomes/data", {"release": "2019-01"}, None, 404, "2019-01"),
    ("GET", "/tables/outcomes/data", {"valuecodes[kommun]": "0180"}, None, 400, "kommun"),
    ("GET", "/tables/outcomes/data", {"valuecodes[geo_code]": "9999"}, None, 400, "9999"),
    ("GET", "/tables/outcomes/data", {"valuecodes[geo_code]": "99*"}, None, 400, "99*"),
    ("GET", "/tables/outcomes/data", {"valuecodes[outcome]": "total"}, None, 400, "period"),
    ("GET", "/tables/outcomes/data", {"outputFormat": "px"}, None, 400, "px"),
    ("GET", "/tables/outcomes/data", {"codelist[geo_code]": "vs_nowhere"}, None, 400, "vs_nowhere"),
    ("GET", "/tables", {"pageSize": "-1"}, None, 400, "pageSize"),
    ("GET", "/tables", {"lang": "xx"}, None, 400, "xx"),
    ("GET", "/codelists/vs_galaxy", {}, None, 404, "vs_galaxy"),
    ("GET", "/no/such/path", {}, None, 404, "/no/such/path"),
    ("POST", "/tables/outcomes/data", {}, b'{"selection": [', 400, "JSON"),
    ("POST", "/tables/outcomes/data", {}, b'{"selection": "all"}', 400, "selection"),
    ("POST", "/tables/outcomes/data", {}, b'{"selection": [{"variableCode": 7}]}', 400, "variableCode"),
    ("DELETE", "/tables/outcomes", {}, None, 404, None),
]


@pytest.mark.parametrize(("method", "path", "params", "body", "status", "named"), BAD)
@pytest.mark.parametrize("lang", ["sv", "en"])
def test_bad_requests_get_a_clear_error_in_the_requests_language(
    api: str,
    method: str,
    path: str,
    params: dict,
    body: bytes | None,
    status: int,
    named: str | None,
    lang: str,
) -> None:
    params = {"lang": lang, **params}
    response = requests.request(method, api + path, params=params, data=body, timeout=30)
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    problem = response.json()
    assert problem["status"] == status and "Traceback" not in response.text
    if named:
        assert named in problem["detail"]
    if params["lang"] != "xx":
        assert (
            problem["title"]
            == {
                "sv": {400: "Felaktig fråga", 404: "Finns inte"},
                "en": {400: "Bad Request", 404: "Not Found"},
            }[lang][status]
        )


def test_a_selection_over_max_data_cells_is_refused(published: Paths) -> None:
    from tests.api.conftest import serve

    servers = serve(published, calls=1000, window=1, max_cells=10)
    api = next(servers)
    try:
        assert _get(api, "/config").json()["maxDataCells"] == 10
        response = _get(api, "/tables/outcomes/data", **{"valuecodes[period]": "*", "lang": "en"})
        assert response.status_code == 403 and "at most 10" in response.json()["detail"]
        small = _get(api, "/tables/outcomes/data", **{"valuecodes[period]": "top(1)"})
        assert small.status_code == 200
    finally:
        servers.close()


def test_too_many_calls_get_429_with_retry_after(published: Paths) -> None:
    from tests.api.conftest import serve

    servers = serve(published, calls=3, window=60)
    api = next(servers)
    try:
        assert [_get(api, "/config").status_code for _ in range(3)] == [200] * 3
        refused = _get(api, "/tables", lang="en")
        assert refused.status_code == 429
        assert 1 <= int(refused.headers["Retry-After"]) <= 60
        assert "Too many calls" in refused.json()["detail"]
    finally:
        servers.close()
