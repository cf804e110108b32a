"""The delivery specification is generated from schemas/ and the committed copy is that output."""

from __future__ import annotations

from pathlib import Path

from pipelines.cli import main
from pipelines.core.schemas import dialects, extract_contract, quarantine_reasons
from pipelines.core.settings import PROJECT_ROOT
from pipelines.stage1_landing.delivery_spec import render

COMMITTED = PROJECT_ROOT / "docs" / "leveransspecifikation.md"


def test_the_committed_specification_is_the_generated_one() -> None:
    assert COMMITTED.read_text(encoding="utf-8") == render(), (
        "schemas/ changed: regenerate with `orostat spec --output docs/leveransspecifikation.md`"
    )


def test_it_names_every_field_column_name_and_rule() -> None:
    text = render()
    for name, spec in extract_contract()["fields"].items():
        assert f"`{name}`" in text and spec["description_sv"] in text
    for spec in dialects().values():
        assert all(f"`{column}`" in text for names in spec["columns"].values() for column in names)
    reasons = quarantine_reasons()
    for rule in reasons["rules"] + reasons["file_level"]:
        assert f"`{rule['code']}`" in text and rule["sv"] in text


def test_the_examples_hold_no_digits_that_could_be_a_personnummer() -> None:
    examples = render().split("Exempel")[1:]
    assert len(examples) == len(dialects())
    assert all("ÅÅÅÅMMDD-NNNN" in example for example in examples)


def test_the_command_writes_the_file(tmp_path: Path, capsys) -> None:
    target = tmp_path / "spec.md"
    assert main(["spec", "--output", str(target)]) == 0
    assert target.read_text(encoding="utf-8") == render()
    assert main(["spec"]) == 0 and capsys.readouterr().out.endswith(render())
