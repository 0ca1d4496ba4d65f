"""The project is self-contained: what its reports and code cite is in the repository (docs/conventions.md,
LICENSE), and every section a citation names exists."""

from __future__ import annotations

import configparser
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SHIPPED = ("explorer", "models", "hardware", "reports")
TEXT = (".py", ".toml", ".md", ".csv")
CITATION = re.compile(r"docs/conventions\.md,? +['\"]([A-Z][^'\"\n]{1,60})['\"]")


def shipped_files() -> list[Path]:
    files = [p for top in SHIPPED for p in (ROOT / top).rglob("*") if p.suffix in TEXT and p.is_file()]
    return files + [ROOT / "README.md"]


def test_nothing_cites_a_file_outside_the_repository():
    bad = []
    for p in shipped_files():
        for n, line in enumerate(p.read_text(encoding="utf-8").splitlines(), 1):
            if "CONVENTIONS" in line or "nccl_figures" in line or re.search(r"\.\./shared/(?!reference/\w+\.csv)",
                                                                             line):
                bad.append(f"{p.relative_to(ROOT)}:{n}: {line.strip()[:100]}")
    assert bad == [], "cite docs/conventions.md instead:\n" + "\n".join(bad)


def test_every_cited_section_exists():
    doc = (ROOT / "docs" / "conventions.md").read_text(encoding="utf-8")
    sections = {m.group(1).strip() for m in re.finditer(r"^## (.+)$", doc, re.M)}
    cited = {}
    for p in shipped_files():
        for m in CITATION.finditer(p.read_text(encoding="utf-8")):
            cited.setdefault(m.group(1), str(p.relative_to(ROOT)))
    assert cited, "no citation found: the pattern is stale"
    missing = {s: where for s, where in cited.items() if s not in sections}
    assert missing == {}, f"sections cited but not in docs/conventions.md: {missing}"


def test_license_file_matches_setup_cfg():
    cfg = configparser.ConfigParser()
    cfg.read(ROOT / "setup.cfg")
    assert cfg["metadata"]["license"] == "MIT"
    text = (ROOT / "LICENSE").read_text(encoding="utf-8")
    assert text.startswith("MIT License") and "the explorer authors" in text
