"""Two directives for the doc set, so that nothing is written twice.

``.. readme-section:: Title``
    the body of README.rst's section ``Title`` (up to the next section of the
    same or a higher level; its subsections come along, one level down,
    unless ``:no-subsections:``).  The
    README stays the quick start, and the guide shows the same text in
    place.  README's internal links (```Metrics`_``) become plain emphasis.
``.. error-catalogue::``
    a table of every error in :mod:`s3service.errors`: code, HTTP status,
    S3's message, and the class to raise.
"""
from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from docutils import nodes
from docutils.parsers.rst import directives
from docutils.statemachine import StringList
from sphinx.util.docutils import SphinxDirective

README = Path(__file__).resolve().parents[2] / "README.rst"
LEVELS = "=-~^"
_LINK = re.compile(r"`([^`<>]+)`_")


def readme_section(title: str, text: str, subsections: bool = True) -> list[str]:
    """The lines of ``title``'s section body, its subsections demoted to start at ``~``
    (or left out, with ``subsections=False``)."""
    lines = text.splitlines()
    start = level = None
    for i in range(len(lines) - 1):
        under = lines[i + 1]
        if lines[i].strip() == title and under and set(under) <= set(LEVELS) \
                and len(under) >= len(title) and len(set(under)) == 1:
            start, level = i + 2, LEVELS.index(under[0])
            break
    if start is None or level is None:
        raise ValueError(f"README.rst has no section {title!r}")
    body: list[str] = []
    i = start
    while i < len(lines):
        line, under = lines[i], lines[i + 1] if i + 1 < len(lines) else ""
        if line.strip() and under and len(set(under)) == 1 and under[0] in LEVELS \
                and len(under) >= len(line.strip()) and not line.startswith(" "):
            found = LEVELS.index(under[0])
            if found <= level or not subsections:
                break
            body.extend([line, LEVELS[min(found - level + 1, 3)] * len(line)])
            i += 2
            continue
        body.append(_LINK.sub(r"*\1*", line))
        i += 1
    return body


class ReadmeSection(SphinxDirective):
    required_arguments = 1
    final_argument_whitespace = True
    option_spec = {"no-subsections": directives.flag}

    def run(self) -> list[nodes.Node]:
        self.env.note_dependency(str(README))
        body = readme_section(self.arguments[0], README.read_text(encoding="utf-8"),
                              "no-subsections" not in self.options)
        return self.parse_text_to_nodes("\n".join(body))


class ErrorCatalogue(SphinxDirective):
    option_spec = {"class": directives.class_option}

    def run(self) -> list[nodes.Node]:
        from s3service.errors import catalogue

        rows = [".. list-table::", "   :header-rows: 1", "   :widths: 25 8 52 15", "",
                "   * - Code", "     - Status", "     - Message", "     - Class"]
        for cls in catalogue():
            message = cls.message.replace("*", r"\*")
            rows += [f"   * - ``{cls.code}``", f"     - {cls.status}", f"     - {message}",
                     f"     - :class:`~s3service.errors.{cls.__name__}`"]
        container = nodes.container()
        self.state.nested_parse(StringList(rows), self.content_offset, container)
        return list(container.children)


def setup(app: Any) -> dict[str, Any]:
    app.add_directive("readme-section", ReadmeSection)
    app.add_directive("error-catalogue", ErrorCatalogue)
    return {"parallel_read_safe": True, "version": "1"}
