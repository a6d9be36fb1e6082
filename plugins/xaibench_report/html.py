"""Small HTML builders: escaped text, tables with grouped headers, figures, the page.

The page is static: inline CSS, no JavaScript, no external URL.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from html import escape

CSS = """
body { font-family: "DejaVu Sans", Helvetica, Arial, sans-serif; margin: 2em auto; max-width: 1200px;
       padding: 0 1em; color: #222; line-height: 1.4; }
h1 { font-size: 1.6em; } h2 { font-size: 1.3em; border-bottom: 1px solid #ccc; margin-top: 2em; }
h3 { font-size: 1.05em; margin-top: 1.5em; }
table { border-collapse: collapse; margin: 0.8em 0; font-size: 0.85em; }
th, td { border: 1px solid #ccc; padding: 0.25em 0.6em; text-align: right; white-space: nowrap; }
th { background: #f3f3f3; text-align: center; } td.label, th.label { text-align: left; white-space: normal; }
figure { margin: 1em 0; } figure img { max-width: 100%; height: auto; border: 1px solid #eee; }
figcaption, p.note { font-size: 0.85em; color: #555; }
nav ul { columns: 2; font-size: 0.9em; } div.wide { overflow-x: auto; } code { background: #f3f3f3; padding: 0 0.2em; }
"""


@dataclass(frozen=True)
class Cell:
    """A table cell: ``text`` (escaped), optionally bold, spanning columns, left-aligned as a label."""

    text: str
    bold: bool = False
    colspan: int = 1
    label: bool = False

    def render(self, tag: str) -> str:
        attrs = (f' colspan="{self.colspan}"' if self.colspan > 1 else "") + (' class="label"' if self.label else "")
        body = f"<strong>{escape(self.text)}</strong>" if self.bold else escape(self.text)
        return f"<{tag}{attrs}>{body}</{tag}>"


CellLike = Cell | str


def _cell(c: CellLike, label: bool = False) -> Cell:
    return c if isinstance(c, Cell) else Cell(str(c), label=label)


def table(header_rows: Sequence[Sequence[CellLike]], rows: Sequence[Sequence[CellLike]], label_columns: int = 1) -> str:
    """A table (``header_rows`` may be empty); the first ``label_columns`` body columns are left-aligned labels."""
    head = "".join("<tr>" + "".join(_cell(c).render("th") for c in hr) + "</tr>" for hr in header_rows)
    body = "".join("<tr>" + "".join(_cell(c, label=i < label_columns).render("td") for i, c in enumerate(r)) + "</tr>"
                   for r in rows)
    thead = f"<thead>{head}</thead>" if head else ""
    return f'<div class="wide"><table>{thead}<tbody>{body}</tbody></table></div>'  # wide tables scroll, not the page


def figure(src: str, alt: str, caption: str | None = None) -> str:
    cap = f"<figcaption>{escape(caption)}</figcaption>" if caption else ""
    return f'<figure><img src="{escape(src, quote=True)}" alt="{escape(alt, quote=True)}">{cap}</figure>'


def heading(level: int, text: str) -> str:
    return f"<h{level}>{escape(text)}</h{level}>"


def paragraph(text: str, note: bool = False) -> str:
    return f'<p class="note">{escape(text)}</p>' if note else f"<p>{escape(text)}</p>"


def page(title: str, sections: Sequence[tuple[str, str, str]], intro: str = "") -> str:
    """The whole document; ``sections``: ``(anchor id, title, body HTML)``."""
    toc = "".join(f'<li><a href="#{escape(sid, quote=True)}">{escape(stitle)}</a></li>' for sid, stitle, _ in sections)
    body = "".join(f'<section id="{escape(sid, quote=True)}"><h2>{escape(stitle)}</h2>{html}</section>'
                   for sid, stitle, html in sections)
    return (f'<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
            f'<meta name="viewport" content="width=device-width, initial-scale=1">'
            f"<title>{escape(title)}</title><style>{CSS}</style></head>"
            f"<body><h1>{escape(title)}</h1>{intro}<nav><ul>{toc}</ul></nav>{body}</body></html>\n")
