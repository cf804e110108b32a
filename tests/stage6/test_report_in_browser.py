"""The report in a real browser: Debian's headless Chromium, driven by Playwright (no browser download).

It opens the report from disk as a reader would, checks the national figures against the release's own
Parquet, that every chart loads and has a text alternative, that a municipality page compares it with its
county and the country and shows suppressed values as ``..``, that printing hides the navigation, and that
the console stays free of errors. Screenshots are kept (``OROSTAT_SCREENSHOTS``, else the test's tmp dir).
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import pandas as pd
import pytest
from playwright.sync_api import Browser, Page, sync_playwright

from pipelines.core.settings import Paths
from pipelines.stage5_protection.release import release_folder
from pipelines.stage6_publishing.release_tables import published_folder
from tests.stage6.conftest import RELEASE

pytestmark = pytest.mark.slow
# Flags as for any headless Chromium on a closed network: no sandbox as root, no background connections.
FLAGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
    "--disable-sync",
]


def _chromium() -> str:
    found = shutil.which("chromium") or shutil.which("chromium-browser")
    assert found, "Debian's chromium is needed (make test installs it as root: apt-get install chromium)"
    return found


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=_chromium(), args=FLAGS)
        yield browser
        browser.close()


@pytest.fixture(scope="module")
def browser_page(browser: Browser) -> Iterator[tuple[Page, list[str]]]:
    page = browser.new_page(viewport={"width": 1200, "height": 900})
    problems: list[str] = []
    page.on(
        "console", lambda m: problems.append(f"console {m.type}: {m.text}") if m.type == "error" else None
    )
    page.on("pageerror", lambda e: problems.append(f"page error: {e}"))
    page.on("requestfailed", lambda r: problems.append(f"failed to load {r.url}"))
    yield page, problems
    page.close()


def _screenshot(page: Page, name: str, tmp_path: Path) -> Path:
    folder = Path(os.environ.get("OROSTAT_SCREENSHOTS", tmp_path))
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    return path


def _swedish(n: int) -> str:
    return f"{n:,}".replace(",", "\u00a0")


def test_the_national_page_shows_the_release_figures_and_charts(
    published: Paths, browser_page, tmp_path
) -> None:
    page, problems = browser_page
    page.goto((published_folder(published, RELEASE) / "rapport" / "index.html").as_uri())
    outcomes = pd.read_parquet(release_folder(published, RELEASE) / "outcomes.parquet")
    total = outcomes.query("geo_code == '00' and period == '2025' and outcome == 'total'")["value"].iloc[0]
    summary = page.get_by_test_id("summary")
    first = summary.locator("tbody tr").first
    assert first.locator("th").inner_text() == "Anmälningar"
    # the figure, then (as of the release's own year) the preliminary marker with its explanation
    assert first.locator("td").last.inner_text().split("p\n")[0] == _swedish(int(total))
    assert summary.locator("tbody tr").count() == 8
    charts = page.locator("figure.chart svg[role=img]")
    # month, quarter, year, shares, causes, reporters, age × sex, återkoppling, län (no signals: too short)
    assert charts.count() == 9
    for description in charts.evaluate_all("s => s.map(x => x.querySelector('desc').textContent)"):
        assert len(description) > 40
    assert page.get_by_test_id("counties").locator("tbody tr").count() == 22  # 21 län and riket
    assert page.get_by_test_id("synthetic-banner").is_visible()
    assert page.locator("#teckenforklaring dt").all_inner_texts() == ["..", "-", ".", "p"]
    shot = _screenshot(page, "rapport", tmp_path)
    assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and shot.stat().st_size > 50_000
    page.emulate_media(media="print")
    assert page.locator("nav").evaluate("n => getComputedStyle(n).display") == "none"
    page.emulate_media(media="screen")
    assert problems == []


def _municipality_with_hidden_group(published: Paths) -> tuple[str, str, str, str]:
    """(code, name, table caption word, group label) of a municipality's hidden cause or reporter group."""
    for table, word in (("reporters", "anmälare"), ("causes", "orsak")):
        frame = pd.read_parquet(release_folder(published, RELEASE) / f"{table}.parquet")
        hidden = frame.query("geo_level == 'kommun' and status == '..'")
        if len(hidden):
            row = hidden.iloc[0]
            return row["geo_code"], row["geo_name"], word, row[frame.columns[8]]
    raise AssertionError("the small release hides some municipality's reporter or cause group")


def test_a_municipality_page_compares_it_and_hides_what_is_hidden(
    published: Paths, browser_page, tmp_path
) -> None:
    page, problems = browser_page
    code, name, word, group = _municipality_with_hidden_group(published)
    page.goto((published_folder(published, RELEASE) / "rapport" / "index.html").as_uri())
    page.locator(f'a[href="kommun/{code}.html"]').click()
    assert page.locator("h1").inner_text() == name
    header = page.get_by_test_id("comparison").locator("thead tr").nth(1).locator("th").all_inner_texts()
    assert header[0] == name and header[2] == "Riket" and len(header) == 6
    assert page.locator("figure.chart svg[role=img]").count() >= 2
    assert all(
        len(label) > 20
        for label in page.locator("figure.chart svg desc").evaluate_all("s => s.map(x => x.textContent)")
    )
    table = page.locator("table", has=page.locator("caption", has_text=word)).first
    row = table.locator("tbody tr", has=page.get_by_role("rowheader", name=group, exact=True))
    shown = row.locator("td abbr.sym [aria-hidden=true]").all_inner_texts()
    assert ".." in shown  # and a screen reader reads the explanation instead (test_pages.py)
    _screenshot(page, f"kommun_{code}", tmp_path)
    assert problems == []


PAGES = ["index.html", "lan/01.html", "lan/20.html", "kommun/0114.html", "kommun/2029.html", "om.html"]
# Smallest text a chart may render, in CSS pixels, at 390 px (a phone) and 1366 px (a desktop)
SMALLEST_CHART_TEXT = 10.0
TEXT_SIZES = """() => [...document.querySelectorAll('svg.chart text')].map(t =>
    parseFloat(getComputedStyle(t).fontSize) * t.ownerSVGElement.getScreenCTM().a)"""


@pytest.mark.parametrize("width", [390, 1366])
def test_no_page_is_wider_than_the_screen_and_chart_text_stays_legible(
    published: Paths, browser: Browser, width: int, tmp_path
) -> None:
    page = browser.new_page(viewport={"width": width, "height": 844})
    for name in PAGES:
        page.goto((published_folder(published, RELEASE) / "rapport" / name).as_uri())
        assert page.evaluate("document.documentElement.scrollWidth <= innerWidth"), (name, width)
        sizes = page.evaluate(TEXT_SIZES)
        assert name == "om.html" or sizes, name
        assert min(sizes, default=SMALLEST_CHART_TEXT) >= SMALLEST_CHART_TEXT, (name, width, min(sizes))
        wide = page.locator(".scroll").evaluate_all(
            "s => s.filter(x => x.scrollWidth > x.clientWidth).length"
        )
        if width == 390 and name.startswith("kommun"):
            assert wide >= 1  # the comparison table scrolls in its own box instead of widening the page
    _screenshot(page, f"kommun_{width}", tmp_path)
    page.close()


def test_the_list_of_municipalities_can_be_searched_and_works_without_javascript(
    published: Paths, browser: Browser
) -> None:
    index = (published_folder(published, RELEASE) / "rapport" / "index.html").as_uri()
    page = browser.new_page(viewport={"width": 390, "height": 844})
    page.goto(index)
    everyone = page.locator("ul.municipalities li:visible").count()
    assert everyone == 290
    page.get_by_label("Sök kommun").fill("upplands")
    visible = page.locator("ul.municipalities li:visible").all_inner_texts()
    assert visible and all("upplands" in name.lower() for name in visible) and len(visible) < everyone
    page.locator("ul.municipalities li:visible a").first.click()
    assert page.locator("h1").inner_text() == visible[0]
    plain = browser.new_page(java_script_enabled=False)
    plain.goto(index)
    assert not plain.get_by_label("Sök kommun").is_visible()
    assert plain.locator("ul.municipalities li:visible").count() == 290
    page.close()
    plain.close()
