"""The municipality's commands: check a file before delivering it, and the delivery specification."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from pipelines.cli.common import CommandError, add_command


def add_commands(sub: argparse._SubParsersAction) -> None:
    validate = add_command(
        sub,
        "validate",
        _validate,
        "check an extract file without loading it (no key needed)",
        "Read an extract as the monthly load would and say, in Swedish (or English), which export format\n"
        "it is, how many rows would load, and per problem how many rows, which rows and what is expected.\n"
        "Nothing is loaded and nothing is written unless --feedback names a file.\n"
        "Exit status: 0 loads clean, 1 loads but some rows would be quarantined, 2 the file would be rejected.",
        [
            "orostat validate 0180_2025-03.csv",
            "orostat validate 0180_2025-03.csv --feedback aterkoppling.csv   # the rows to correct, for Excel",
            "orostat validate 0180_2025-03.csv --english --feedback feedback.json",
        ],
    )
    validate.add_argument("file", type=Path, help="the extract: <kommunkod>_<ÅÅÅÅ-MM>[_…].csv|.txt|.xlsx")
    validate.add_argument("--english", action="store_true", help="messages in English")
    validate.add_argument(
        "--feedback", type=Path, help="write the feedback here: .csv (rows to correct) or .json (summary)"
    )
    spec = add_command(
        sub,
        "spec",
        _spec,
        "write the delivery specification for municipalities (Markdown, Swedish)",
        "The columns, codes, accepted export formats and checks of a delivery, generated from schemas/.",
        ["orostat spec --output leveransspecifikation.md", "orostat spec | less"],
    )
    spec.add_argument("--output", type=Path, help="write it here (default: print it)")


def _validate(args: argparse.Namespace) -> int:
    from pipelines.stage2_pseudonymise.feedback import validate_file

    if args.feedback is not None:
        _check_writable(args.feedback, args.english)
    return validate_file(args.file, english=args.english, feedback=args.feedback)


def _check_writable(target: Path, english: bool) -> None:
    if not target.parent.is_dir():
        raise CommandError(
            f"--feedback {target}: the folder {target.parent} does not exist."
            if english
            else f"--feedback {target}: mappen {target.parent} finns inte."
        )
    if target.suffix.lower() not in {".csv", ".json"}:
        raise CommandError(
            f"--feedback {target}: name a .csv or .json file."
            if english
            else f"--feedback {target}: ange en fil som slutar på .csv eller .json."
        )


def _spec(args: argparse.Namespace) -> int:
    from pipelines.stage1_landing.delivery_spec import render

    text = render()
    if args.output is None:
        sys.stdout.write(text)
        return 0
    if not args.output.parent.is_dir():
        raise CommandError(f"--output {args.output}: the folder {args.output.parent} does not exist.")
    args.output.write_text(text, encoding="utf-8")
    print(f"Wrote {args.output}")
    return 0
