"""The delivery specification a municipality reads: generated from the contract, the dialects, the code lists
and the validation rules in ``schemas/``, so that it never says anything the pipeline does not check.

``orostat spec`` writes it (``docs/leveransspecifikation.md`` in the repository is its output, and a test
keeps the two equal). The words around the tables are Swedish: municipalities are its readers.
"""

from __future__ import annotations

import csv
from collections.abc import Iterator
from typing import Any

from pipelines.core.schemas import dialects, extract_contract, quarantine_reasons
from pipelines.core.settings import SCHEMAS, settings

_TYPES = {
    "string": "text",
    "date": "datum",
    "code": "kod",
    "code_list": "en eller flera koder",
}


def render() -> str:
    """The whole specification as Markdown."""
    contract = extract_contract()
    parts = [
        _introduction(contract),
        _fields(contract),
        _dialects(),
        _code_lists(contract),
        _row_rules(),
        _file_rules(),
    ]
    return "\n\n".join(part.rstrip() for part in parts) + "\n"


def _introduction(contract: dict[str, Any]) -> str:
    lookback = settings()["extract"].get("lookback_months")
    extra = f" (högst {lookback} månader bakåt)" if lookback else ""
    return f"""# Leveransspecifikation: kommunens månadsuttag av orosanmälningar (kontrakt v{contract["version"]})

*Genererad från `schemas/` med `orostat spec`; ändra inte för hand.*

Varje kommun levererar en fil per månad. **En rad är en anmälan om ett barn** (en anmälan om tre syskon är
tre rader). Filen för månad M innehåller alla anmälningar som kom in under M och alla tidigare
anmälningar{extra} vars läge ändrades under M, oftast genom beslut. En ny leverans för samma kommun och
månad ersätter den tidigare.

**Filnamn:** `<kommunkod>_<ÅÅÅÅ-MM>[_valfritt].csv`, `.txt` eller `.xlsx`, till exempel `0180_2025-03.csv`
eller `0180_2025-03_rattad.csv` (den nyaste filen som går att läsa in gäller). Ett filnamn får aldrig
innehålla ett personnummer; en sådan fil avvisas.

**Kontrollera filen innan du levererar den** (ingenting läses in, ingen nyckel behövs):
`orostat validate 0180_2025-03.csv --feedback aterkoppling.csv`. Kommandot säger vilket format det
kände igen och, per fel, hur många rader, vilka rader och vad som förväntas."""


def _fields(contract: dict[str, Any]) -> str:
    rows = ["| fält | krävs | typ | beskrivning |", "|---|---|---|---|"]
    for name, spec in contract["fields"].items():
        required = "ja" if spec.get("required") else "nej"
        if spec.get("since_version"):
            required += f" (nytt i v{spec['since_version']})"
        kind = _TYPES.get(spec["type"], spec["type"])
        if spec.get("max_length"):
            kind += f", högst {spec['max_length']} tecken"
        if spec.get("code_list"):
            kind += f" ([kodlista](#{_anchor(spec['code_list'])}))"
        rows.append(f"| `{name}` | {required} | {kind} | {spec['description_sv']} |")
    return "## Fälten\n\nKolumnernas namn beror på systemet filen kommer från (se *Format*).\n\n" + "\n".join(
        rows
    )


def _dialects() -> str:
    out = [
        "## Format",
        "",
        "Exportformaten nedan känns igen på sina kolumnrubriker (stora och små bokstäver och accenter spelar "
        "ingen roll). Teckenkodning och avgränsare upptäcks i filen. Kolumner som inte hör till kontraktet "
        "ignoreras och nämns i återkopplingen.",
    ]
    for name, spec in dialects().items():
        out += ["", f"### `{name}`: {spec.get('description', '')}", ""]
        out += [
            f"- filformat: {spec['format']}" + (f", kodning {spec['encoding']}" if "encoding" in spec else "")
        ]
        if "delimiter" in spec:
            out.append(f"- avgränsare: `{spec['delimiter']}`")
        if spec.get("date_formats"):
            formats = ", ".join(f"`{_date_format(f)}`" for f in spec["date_formats"])
            out.append(f"- datum: {formats}")
        out.append(f"- flera orsaker i samma fält skiljs med `{spec.get('list_separator', ',')}`")
        out += ["", "| fält | kolumnrubriker som känns igen |", "|---|---|"]
        for field_name, names in spec["columns"].items():
            out.append(f"| `{field_name}` | {', '.join(f'`{n}`' for n in names)} |")
        for field_name, words in (spec.get("values") or {}).items():
            pairs = ", ".join(f"{word} → `{code}`" for word, code in words.items())
            out += ["", f"Ord i fältet `{field_name}`: {pairs}."]
        out += ["", "Exempel (första raderna):", "", "```", *_example(spec), "```"]
    return "\n".join(out)


def _example(spec: dict[str, Any]) -> Iterator[str]:
    """A header and one row in the dialect, with placeholders instead of any number that could be real."""
    columns = spec["columns"]
    delimiter = spec.get("delimiter", " | ")
    date = _date_format(spec.get("date_formats", ["%Y-%m-%d"])[0])
    sample = {
        "municipality_code": "0180",
        "report_id": "A-2025-00123",
        "personal_number": "ÅÅÅÅMMDD-NNNN",
        "date_received": date,
        "reporter": _word(spec, "reporter", "SKO"),
        "causes": spec.get("list_separator", ",").join(["V1", "F2"]),
        "outcome": _word(spec, "outcome", "inleds"),
        "decision_date": date,
        "org_unit": "",
        "feedback_date": date,
    }
    yield delimiter.join(names[0] for names in columns.values())
    yield delimiter.join(sample.get(field_name, "") for field_name in columns)


def _word(spec: dict[str, Any], field_name: str, code: str) -> str:
    words = (spec.get("values") or {}).get(field_name) or {}
    return next((word for word, value in words.items() if value == code), code)


def _date_format(pattern: str) -> str:
    return pattern.replace("%Y", "ÅÅÅÅ").replace("%m", "MM").replace("%d", "DD")


def _code_lists(contract: dict[str, Any]) -> str:
    out = ["## Kodlistor"]
    for spec in contract["fields"].values():
        if not spec.get("code_list"):
            continue
        with (SCHEMAS / spec["code_list"]).open(encoding="utf-8") as fh:
            codes = list(csv.DictReader(fh))
        validity = "valid_from" in codes[0]
        out += [
            "",
            f'<a id="{_anchor(spec["code_list"])}"></a>',
            f"### {spec['description_sv']} (`{spec['code_list']}`)",
            "",
        ]
        out += [
            "| kod | betydelse |" + (" gäller från | gäller till |" if validity else ""),
            "|---|---|" + ("---|---|" if validity else ""),
        ]
        for row in codes:
            line = f"| `{row['code']}` | {row['label_sv']} |"
            if validity:
                line += f" {row.get('valid_from') or ''} | {row.get('valid_to') or ''} |"
            out.append(line)
    return "\n".join(out)


def _row_rules() -> str:
    out = [
        "## Rader som hamnar i karantän",
        "",
        "En rad med fel läses inte in; den hamnar i karantän med alla sina skäl, och resten av filen läses in.",
        "",
        "| kod | fält | skäl | förväntat |",
        "|---|---|---|---|",
    ]
    spec = quarantine_reasons()
    for rule in spec["rules"] + spec.get("structural", []):
        out.append(
            f"| `{rule['code']}` | {rule.get('field') or '–'} | {rule['sv']} | {rule.get('expected', '')} |"
        )
    return "\n".join(out)


def _file_rules() -> str:
    out = ["## Filer som avvisas", "", "Hela filen läses inte in; övriga kommuners filer påverkas inte.", ""]
    out += ["| kod | skäl |", "|---|---|"]
    out += [f"| `{rule['code']}` | {rule['sv']} |" for rule in quarantine_reasons()["file_level"]]
    return "\n".join(out)


def _anchor(code_list: str) -> str:
    return "kodlista-" + code_list.rsplit("/", 1)[-1].removesuffix(".csv")
