"""Reading a written report back: its images and its HTML structure."""

from __future__ import annotations

from html.parser import HTMLParser

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
VOID = {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source", "track", "wbr"}


class StrictParser(HTMLParser):
    """Collects ``<img>`` sources, ids, links and text, and records every tag that is closed
    out of order or never closed (Python's parser itself accepts anything)."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.stack: list[str] = []
        self.errors: list[str] = []
        self.images: list[dict[str, str]] = []
        self.ids: list[str] = []
        self.urls: list[str] = []
        self.tags: list[str] = []
        self.text: list[str] = []

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        self.tags.append(tag)
        if "id" in a:
            self.ids.append(a["id"])
        for key in ("src", "href"):
            if a.get(key):
                self.urls.append(a[key])
        if tag == "img":
            self.images.append(a)
        if tag not in VOID:
            self.stack.append(tag)

    def handle_startendtag(self, tag, attrs):
        self.handle_starttag(tag, attrs)
        if tag not in VOID:
            self.stack.pop()

    def handle_endtag(self, tag):
        if not self.stack or self.stack[-1] != tag:
            self.errors.append(f"</{tag}> closes {self.stack[-1] if self.stack else 'nothing'}")
            return
        self.stack.pop()

    def handle_data(self, data):
        self.text.append(data)

    def close(self):
        super().close()
        if self.stack:
            self.errors.append(f"never closed: {self.stack}")


def parse(text: str) -> StrictParser:
    p = StrictParser()
    p.feed(text)
    p.close()
    return p


def png_size(data: bytes) -> tuple[int, int]:
    """Width and height of a PNG, after checking that it decodes (Pillow comes with matplotlib)."""
    import io

    from PIL import Image

    assert data[:8] == PNG_SIGNATURE
    with Image.open(io.BytesIO(data)) as im:
        im.load()
        assert im.format == "PNG"
        return im.size
