"""The page's files obey the Content Security Policy they are served with, by construction."""

from __future__ import annotations

import re
from html.parser import HTMLParser
from pathlib import Path

WEB = Path(__file__).resolve().parents[2] / "clients" / "web"


class Markup(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.inline: list[str] = []
        self.scripts: list[str] = []
        self.testids: list[str] = []
        self._in_script = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        names = dict(attrs)
        for name in names:
            if name == "style" or name.startswith("on"):
                self.inline.append(f"<{tag} {name}=...>")
        if tag == "script":
            self.scripts.append(names.get("src") or "")
            self._in_script = True
        if names.get("data-testid"):
            self.testids.append(names["data-testid"] or "")

    def handle_endtag(self, tag: str) -> None:
        if tag == "script":
            self._in_script = False

    def handle_data(self, data: str) -> None:
        if self._in_script and data.strip():
            self.inline.append(f"inline script: {data.strip()[:40]}")


def test_the_markup_has_no_inline_script_or_style() -> None:
    page = Markup()
    page.feed((WEB / "index.html").read_text())
    assert page.inline == []
    assert page.scripts == ["/web/app.js"]
    assert len(page.testids) == len(set(page.testids)), "data-testid values are unique"


def test_scripts_never_parse_html_nor_evaluate_code() -> None:
    forbidden = re.compile(
        r"innerHTML|outerHTML|insertAdjacentHTML|document\.write|\beval\(|new Function|"
        r"setAttribute\(\s*[\"']style|https?://(?!www\.w3\.org/2000/svg)"
    )
    scripts = sorted(WEB.glob("*.js"))
    assert scripts
    for script in scripts:
        hits = [m.group(0) for m in forbidden.finditer(script.read_text())]
        assert hits == [], f"{script.name}: {hits}"


def test_nothing_is_fetched_from_elsewhere() -> None:
    for name in ("index.html", "style.css"):
        text = (WEB / name).read_text()
        assert re.findall(r"(?:src|href)=\"(?!/|#|data:)[^\"]*\"", text) == [], name
        assert re.findall(r"url\((?![\"']?data:)", text) == [], name
        assert "@import" not in text, name
