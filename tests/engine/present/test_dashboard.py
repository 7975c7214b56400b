"""`salesplay dashboard`: the page equals the JSON reports, is scoped to a subtree, escapes
names, says "no data" in place, asks the network for nothing; then the same page in headless
Chromium at a phone's and a desk's width (screenshots under the test's tmp folder)."""

from __future__ import annotations

import json
import os
import re
import shutil
from datetime import date
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from sqlalchemy.engine import Engine

from salesplay.cli import cli
from salesplay.engine import demo
from salesplay.engine.present import dashboard, reports
from salesplay.engine.store import db
from tests.conftest import load, load_playbook

AS_OF = date(2024, 6, 30)


class Figures(HTMLParser):
    """Every tagged figure of a page: (kind/row/key, data-value, text shown)."""

    def __init__(self) -> None:
        super().__init__()
        self.found: list[tuple[str, str, str]] = []
        self._open: tuple[str, str] | None = None
        self.data_script = ""
        self._in_data = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        given = dict(attrs)
        if "data-fig" in given:
            self._open = (given["data-fig"] or "", given["data-value"] or "")
        if tag == "script" and given.get("id") == "salesplay-data":
            self._in_data = True

    def handle_data(self, data: str) -> None:
        if self._open is not None:
            self.found.append((*self._open, data))
            self._open = None
        elif self._in_data:
            self.data_script += data

    def handle_endtag(self, tag: str) -> None:
        if tag == "span" and self._open is not None:  # an empty figure
            self.found.append((*self._open, ""))
            self._open = None
        self._in_data = False if tag == "script" else self._in_data


def parse(page: str) -> Figures:
    figures = Figures()
    figures.feed(page)
    return figures


def check_figures(page: str) -> dict[str, Any]:
    """Every figure on the page equals its value in the embedded JSON, shown as format_value
    shows it; return the embedded JSON."""
    figures = parse(page)
    data = json.loads(figures.data_script)
    assert figures.found, "no figure on the page"
    for path, value, shown in figures.found:
        kind, row, key = path.split("/")
        expected = data[kind]["rows"][int(row)][key]
        assert json.loads(value) == expected, path
        if key != "light":
            assert shown == dashboard.format_value(key, expected), path
    return data


@pytest.fixture(scope="module")
def demo_db(tmp_path_factory: pytest.TempPathFactory) -> Engine:
    """The demo organisation (two regions, several cities), evaluated on 2024-06-30."""
    path = tmp_path_factory.mktemp("dash") / "demo.db"
    engine = db.connect(f"sqlite:///{path}")
    demo.run_demo(engine, load_playbook("default"), AS_OF, demo.DemoSize(customers=300), 7, False)
    return engine


def test_page_equals_the_json_reports(demo_db: Engine) -> None:
    book = load_playbook("default")
    page = dashboard.build(demo_db, book, AS_OF, "CT1")
    data = check_figures(page)
    asked = reports.query(demo_db, book, AS_OF, None, "CT1")
    for kind, envelope in data.items():  # the same as `salesplay report KIND --format json`
        assert envelope == json.loads(
            json.dumps(reports.run(kind, asked).envelope(), default=dashboard._jsonable)
        )
    assert '<meta name="viewport" content="width=device-width, initial-scale=1">' in page
    assert not re.search(r"https?://", page)
    assert not re.search(r"<(link|img|iframe)\b|@import|url\(|src=", page)


def test_a_city_page_names_nobody_else(demo_db: Engine) -> None:
    """上海 (CT1)'s page holds its reps' names and none of the other cities' or reps'."""
    book = load_playbook("default")
    page = dashboard.build(demo_db, book, AS_OF, "CT1")
    with demo_db.connect() as conn:
        from sqlalchemy import text

        units = dict(conn.execute(text("SELECT id, name FROM org_units")).all())
        reps = conn.execute(text("SELECT id, name, org_unit_id FROM reps")).all()
    assert units["CT1"] in page
    for unit, name in units.items():
        if unit != "CT1":
            assert name not in page, name
    assert any(name in page for _, name, unit in reps if unit == "CT1")
    for rep, name, unit in reps:
        if unit != "CT1":
            assert name not in page and f'"{rep}"' not in page, name


def test_names_are_escaped_and_no_data_says_so(org: Engine) -> None:
    load(org, "org_units", [{"id": "XX", "name": "<script>alert(1)</script>", "parent_id": "HQ"}])
    page = dashboard.build(org, load_playbook("default"), AS_OF, "XX")
    assert "<script>alert(1)</script>" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert page.count("该范围和周期暂无数据。") >= 5  # every empty section says so in place
    assert "<svg" not in page  # never an empty chart
    data = json.loads(parse(page).data_script)
    assert data["funnel"] == {
        "kind": "funnel",
        "as_of": "2024-06-30",
        "period": "2024-06",
        "under": "XX",
        "rows": [],
    }


def test_cli_bad_input_exits_2(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'd.db'}"
    db.connect(url)
    out = tmp_path / "page.html"
    bad = CliRunner().invoke(cli, ["dashboard", "--db", url, "--under", "NOPE", "--out", str(out)])
    assert (bad.exit_code, bad.output.strip()) == (2, "error: --under: no org unit with id 'NOPE'")
    assert not out.exists()
    bad = CliRunner().invoke(cli, ["dashboard", "--db", url, "--period", "June"])
    assert bad.exit_code == 2 and len(bad.output.strip().splitlines()) == 1
    good = CliRunner().invoke(cli, ["dashboard", "--db", url, "--out", str(out)])
    assert good.exit_code == 0, good.output
    assert "salesplay-data" in out.read_text("utf-8")


# ---- in a real browser ----------------------------------------------------------------------


def _browser() -> Any:
    """Headless Chromium through Selenium, or a skip (locally) / failure (CI=true) saying why."""
    why = ""
    try:
        from selenium import webdriver
        from selenium.webdriver.chrome.service import Service
    except ImportError:
        why = "selenium is not installed (pip install -e '.[dev]')"
    binary = shutil.which("chromium") or shutil.which("chromium-browser")
    driver = shutil.which("chromedriver")
    if not why and not (binary and driver):
        why = (
            "no chromium/chromedriver (apt-get install -y chromium chromium-driver fonts-noto-cjk)"
        )
    if why:
        if os.environ.get("CI") == "true":
            pytest.fail(f"browser tests need a browser in CI: {why}")
        pytest.skip(why)
    options = webdriver.ChromeOptions()
    options.binary_location = binary  # type: ignore[assignment]
    for arg in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage"):
        options.add_argument(arg)
    return webdriver.Chrome(service=Service(driver), options=options)


@pytest.fixture(scope="module")
def browser() -> Any:
    driver = _browser()
    yield driver
    driver.quit()


SECTIONS = ["goals", "funnel", "grades", "visits", "warnings", "follow-up", "payouts"]


@pytest.mark.parametrize("size", [(390, 844), (1280, 800)], ids=["phone", "desktop"])
def test_in_chromium(browser: Any, demo_db: Engine, tmp_path: Path, size: tuple[int, int]) -> None:
    page = dashboard.build(demo_db, load_playbook("default"), AS_OF, "CT1")
    path = tmp_path / "dashboard.html"
    path.write_text(page, "utf-8")
    browser.set_window_size(*size)
    browser.get(path.as_uri())
    width = browser.execute_script("return window.innerWidth")
    if size[0] == 390:  # the window's frame takes some: the page must fit what is left
        assert browser.execute_script("return document.documentElement.scrollWidth") <= width
    for section in SECTIONS:
        shown = browser.execute_script(
            "const e = document.getElementById(arguments[0]); const r = e.getBoundingClientRect();"
            "return r.width > 0 && r.height > 0 && getComputedStyle(e).display !== 'none';",
            section,
        )
        assert shown, section
    resources = browser.execute_script("return performance.getEntriesByType('resource').length")
    assert resources == 0
    data = json.loads(browser.execute_script(
        "return document.getElementById('salesplay-data').textContent"
    ))  # fmt: skip
    figures = browser.execute_script(
        "return [...document.querySelectorAll('[data-fig]')]"
        ".map(e => [e.dataset.fig, e.dataset.value, e.textContent])"
    )
    assert figures
    for fig, value, text in figures:
        kind, row, key = fig.split("/")
        assert json.loads(value) == data[kind]["rows"][int(row)][key], fig
        if key != "light":
            assert text == dashboard.format_value(key, data[kind]["rows"][int(row)][key]), fig
    assert "上海分公司" in browser.find_element("tag name", "h1").text
    shots = tmp_path / "screenshots"
    shots.mkdir(exist_ok=True)
    full = browser.execute_script("return document.documentElement.scrollHeight")
    browser.set_window_size(size[0], max(size[1], full))
    assert browser.save_screenshot(str(shots / f"dashboard-{size[0]}x{size[1]}.png"))
