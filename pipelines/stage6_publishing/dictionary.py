"""The data dictionary (Markdown and HTML), generated from the contracts in ``schemas/`` and nothing else.

Every published table, its columns with type, unit and meaning, its categories or code list, every rate and
percentile with its definition, the symbols and the disclosure rules: what a researcher needs to read the
release without asking. Tests check it against the columns a real release writes.
"""

from __future__ import annotations

from typing import Any

from markdown_it import MarkdownIt

from pipelines.core.schemas import code_table, publishing_spec, release_spec, statistics_spec

EXAMPLES = [
    (
        "Anmälningar per län i år (utan undertryckta värden)",
        "SELECT geo_name, value FROM outcomes\n"
        "WHERE geo_level = 'lan' AND period_type = 'year' AND outcome = 'total'\n"
        "  AND period = (SELECT max(period) FROM outcomes WHERE period_type = 'year')\n"
        "ORDER BY value DESC",
    ),
    (
        "Andel beslutade anmälningar som ledde till utredning, per månad i riket",
        "SELECT period, value FROM rates\n"
        "WHERE geo_level = 'riket' AND period_type = 'month' AND rate = 'investigation_rate'\n"
        "ORDER BY period",
    ),
    (
        "Hur många kommunsiffror är undertryckta, per tabell",
        "SELECT 'outcomes' AS tabell, count(*) FILTER (status = '..') AS undertryckta, count(*) AS celler\n"
        "FROM outcomes WHERE geo_level = 'kommun'",
    ),
]


def column_rows(table: str) -> list[tuple[str, str, str, str]]:
    """(column, type, unit, meaning) of every column a published table has, in the order it is written."""
    spec, pub = release_spec(), publishing_spec()
    common = pub["columns"]
    if table == "ptable":
        return [_common(name) for name in ("i", "j", "noise", "p", "p_upper", "p_lower")]
    lead = ["release", "as_of_month", "period_type", "period", "geo_level", "geo_code", "geo_name"]
    rows = [(name, common[name]["type"], "", common[name]["en"]) for name in lead]
    if table in spec["tables"]:
        t = spec["tables"][table]
        for dim, d in t["dimensions"].items():
            rows.append((dim, "VARCHAR", "", f"{d['en']}: code (see the categories below)"))
            rows.append((f"{dim}_sv", "VARCHAR", "", f"{d['en']}: Swedish label"))
        rows.append(("value", "BIGINT", t["unit"], common["value"]["en"]))
    elif table == "percentiles":
        rows += [_common("percentile"), _common("percentile_sv"), _common("unit")]
        rows.append(("value", "BIGINT", "dagar", common["value"]["en"]))
    elif table == "data_quality":
        rows += [_common("measure"), _common("measure_sv"), _common("unit")]
        rows.append(("value", "DOUBLE", "see the measures below", common["value"]["en"]))
    else:
        rows += [_common("rate"), _common("rate_sv")]
        if table == "population_rates":
            rows.append(_common("population", unit="barn"))
        rows.append(("value", "DOUBLE", "see the rates below", common["value"]["en"]))
    rows.append(_common("status"))
    if table in (*spec["tables"], *pub["derived_tables"]):  # every table with a period and an area
        rows += [_common("preliminary"), _common("undecided")]
    return rows


def _common(name: str, unit: str = "") -> tuple[str, str, str, str]:
    column = publishing_spec()["columns"][name]
    return name, column["type"], unit, column["en"]


def markdown(release: str | None = None) -> str:
    spec, pub = release_spec(), publishing_spec()
    lines = [
        "# Datakatalog – orostat",
        "",
        f"Release contract v{spec['version']}, publishing spec v{pub['version']}"
        + (f", release {release}" if release else "")
        + ". Generated from `schemas/release.yaml`, `schemas/publishing.yaml`, `schemas/statistics.yaml`"
        " and the code lists; do not edit by hand.",
        "",
        f"Unit of count: {statistics_spec()['unit']}. {statistics_spec()['as_of'].strip()}",
        "",
        *_symbols_md(),
        *_rules_md(spec),
    ]
    for name, table in spec["tables"].items():
        lines += _table_md(name, table)
    lines += _derived_md(spec, pub)
    lines += _csv_md()
    lines += _code_lists_md(spec)
    lines += _examples_md()
    return "\n".join(lines) + "\n"


def _symbols_md() -> list[str]:
    lines = ["## Symbols", "", "| Symbol | Svenska | English |", "|---|---|---|"]
    for symbol, text in publishing_spec()["symbols"].items():
        lines.append(f"| `{symbol}` | {text['sv']} | {text['en']} |")
    return [*lines, ""]


def _rules_md(spec: dict[str, Any]) -> list[str]:
    r = spec["rules"]
    if r.get("method") == "cell_key":
        k = spec["cell_key"]
        method = [
            "- Cell-key method: every count of an additive table is its true value plus a noise drawn from the"
            f" published perturbation table (`ptable.parquet`: noise within ±{k['max_noise']}, mean 0, variance"
            f" {k['variance']:g}) by the sum of its reports' secret record keys, so the same reports give the"
            " same value in every table and release. Totals need not equal the sum of their parts.",
            f"- Published values 1–{r['threshold']} are shown as `..`; zeros (no reports) are published as 0.",
            "- The distinct-children tables (not additive) use primary suppression and the group rule.",
            "- Every release ships a certificate audit (`audit.parquet`, `manifest.json`): no count can be bounded"
            " more tightly than the protection margin from everything any release has published.",
        ]
    else:
        method = [
            f"- Counts from 1 to {r['threshold']} are suppressed (primary); zeros are "
            f"{'suppressed' if r['suppress_zeros'] else 'published'}.",
            f"- Group rule: {'on' if r['group_rule'] else 'off'} (a whole group below {r['group_threshold']} in"
            " one category is suppressed).",
            "- Secondary suppression hides further cells so that no hidden cell can be recomputed or bounded"
            " more tightly than the protection margin from the published margins, linked tables or the previous"
            " release; every release ships an LP audit (`audit.parquet`) of each hidden cell's interval.",
        ]
    return [
        "## Disclosure control",
        "",
        *method,
        "- Geographies and periods: "
        + "; ".join(f"{geo}: {', '.join(periods)}" for geo, periods in spec["geographies"].items())
        + ". A municipality's months are never published, only its year to date and last full year.",
        "",
    ]


def _columns_md(name: str) -> list[str]:
    lines = ["| Column | Type | Unit | Meaning |", "|---|---|---|---|"]
    lines += [f"| `{c}` | {t} | {u} | {m} |" for c, t, u, m in column_rows(name)]
    return [*lines, ""]


def _table_md(name: str, table: dict[str, Any]) -> list[str]:
    lines = [f"## `{name}` – {table['title_sv']}", "", f"{table['title_en']}. Unit: {table['unit']}."]
    if table.get("note_sv"):
        lines += ["", f"*{' '.join(table['note_sv'].split())}*"]
    geos = table.get("geographies", list(release_spec()["geographies"]))
    lines += ["", f"Geographic levels: {', '.join(geos)}. Additive: {table.get('additive', True)}.", ""]
    lines += _columns_md(name)
    for dim, d in table["dimensions"].items():
        if "categories" in d:
            lines += [
                f"Categories of `{dim}` ({d['sv']}):",
                "",
                "| Code | Svenska | English |",
                "|---|---|---|",
            ]
            lines += [f"| `{code}` | {cat['sv']} | {cat['en']} |" for code, cat in d["categories"].items()]
            hierarchy = d.get("hierarchy", {})
            lines += [""] + [
                f"- `{top}` = {' + '.join(f'`{p}`' for p in parts)}" for top, parts in hierarchy.items()
            ]
        else:
            total = " plus `total`" if d.get("total") else " (no total: the groups overlap)"
            lines.append(f"`{dim}` ({d['sv']}): code list `{d['codes']}`{total}, listed below.")
        lines.append("")
    return lines


def _derived_md(spec: dict[str, Any], pub: dict[str, Any]) -> list[str]:
    lines: list[str] = []
    for name, derived in pub["derived_tables"].items():
        lines += [f"## `{name}` – {derived['title_sv']}", "", f"{derived['title_en']}.", ""]
        lines += _columns_md(name)
        lines += ["| Code | Svenska | English | Unit | Definition |", "|---|---|---|---|---|"]
        items = spec[derived["spec"]]
        if name == "data_quality":
            lines += [_quality_md(code, item, items) for code, item in items["measures"].items()]
            lines += ["", " ".join(_QUALITY_NOTE.split()).format(**items), ""]
            continue
        for code, item in items.items():
            lines.append(f"| `{code}` | {item['sv']} | {item['en']} | {item['unit']} | {_definition(item)} |")
        lines.append("")
    return lines


_QUALITY_NOTE = """The period is the extract month (not the month of arrival), from stage 4's delivery monitoring.
Counts of rows and reports are published for riket and län only, rounded to the nearest {rounding} (half
to even), so a handful is never visible; shares are computed from the rounded counts. A municipality is
*complete* when it delivered, no file was rejected and at most {incomplete_share:.0%} of its rows were
quarantined. A month without any load is `-` (missing). `preliminary` is true for the as-of month (a
re-delivery can still change it)."""


def _quality_md(code: str, item: dict[str, Any], items: dict[str, Any]) -> str:
    levels = ", ".join(item["levels"])
    if "share" in item:
        how = f"`{item['share'][0]}` / `{item['share'][1]}` (rounded counts)"
    else:
        how = f"rounded to the nearest {items['rounding']}" if item.get("rounded") else "exact"
    return f"| `{code}` | {item['sv']} | {item['en']} | {item['unit']} | {levels}; {how} |"


def _csv_md() -> list[str]:
    lines = [
        "## CSV files",
        "",
        "Every table is published as Parquet and as two CSV files:",
        "",
        "| File | Separator | Decimal mark | Encoding | Not published | true/false |",
        "|---|---|---|---|---|---|",
    ]
    for kind, f in publishing_spec()["csv"].items():
        missing = (
            "symbol in `value` (`..`, `-`, `.`)" if f["symbols"] else "empty `value`, symbol in `status`"
        )
        encoding = "UTF-8 with BOM" if f["encoding"] == "utf-8-sig" else "UTF-8"
        lines.append(
            f"| `<table>{f['suffix']}` ({kind}) | `{f['sep']}` | `{f['decimal']}` | {encoding} | {missing} |"
            f" {f['true']}/{f['false']} |"
        )
    lines += [
        "",
        "The Swedish file opens as numbers in Swedish Excel; in pandas: "
        "`pd.read_csv(path, sep=';', decimal=',', encoding='utf-8-sig')`. The machine file: "
        "`pd.read_csv(path)`.",
        "",
    ]
    return lines


def _definition(item: dict[str, Any]) -> str:
    def ref(part: dict[str, Any]) -> str:
        where = ", ".join(f"{k} = {v}" for k, v in part["where"].items())
        return f"`{part['table']}` ({where})"

    if "denominator" in item:
        return f"{ref(item['numerator'])} / {ref(item['denominator'])}; `..` if either is suppressed or 1–threshold"
    if "per" in item:
        return f"{ref(item['numerator'])} × {item['per']} / population 0–17 (SCB); omitted without a population file"
    return f"over `{item['group']}` reports; `..` where that count is 1–threshold"


def _code_lists_md(spec: dict[str, Any]) -> list[str]:
    lines = ["## Code lists", ""]
    for name in sorted(
        {d["codes"] for t in spec["tables"].values() for d in t["dimensions"].values() if "codes" in d}
    ):
        table = code_table(name).to_pandas()
        lines += [f"### `{name}`", "", "| Code | Svenska |", "|---|---|"]
        lines += [
            f"| `{code}` | {label} |" for code, label in zip(table["code"], table["label_sv"], strict=True)
        ]
        lines.append("")
    return lines


def _examples_md() -> list[str]:
    lines = [
        "## Example queries",
        "",
        'Run them with `orostat query "…"` or in DuckDB on `orostat.duckdb`.',
        "",
    ]
    for title, sql in EXAMPLES:
        lines += [f"**{title}**", "", "```sql", sql, "```", ""]
    return lines


def html(release: str | None = None) -> str:
    body = MarkdownIt("commonmark").enable("table").render(markdown(release))
    return (
        '<!doctype html>\n<html lang="sv"><head><meta charset="utf-8">'
        "<title>Datakatalog – orostat</title>"
        "<style>body{font-family:system-ui,sans-serif;max-width:60rem;margin:2rem auto;padding:0 1rem;"
        "line-height:1.5}table{border-collapse:collapse}td,th{border:1px solid #999;padding:.2rem .5rem;"
        "text-align:left;vertical-align:top}code{background:#f3f3f3}</style></head><body>\n"
        f"{body}</body></html>\n"
    )
