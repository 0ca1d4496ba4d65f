"""Minimal self-contained HTML page for a Report (the reports work extends it with plots)."""

from __future__ import annotations


def page(r, esc) -> str:
    from reports.render import to_text

    body = esc(to_text(r, md=False))
    return (f"<!doctype html><html><head><meta charset='utf-8'><title>{esc(r.title)}</title></head>"
            f"<body><pre>{body}</pre></body></html>\n")
