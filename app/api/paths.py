"""The app's documented path templates, matched against raw request paths.

Used where the router's own answer is missing or partial: requests refused before routing
(413) still get their route template as a metrics label, and a 405 lists every documented
method of the path in `Allow` (the router names only the methods of the first route whose
path matched).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from fastapi import FastAPI
from starlette.routing import compile_path

_HTTP_METHODS = frozenset({"get", "put", "post", "delete", "options", "head", "patch", "trace"})


@dataclass(frozen=True, slots=True)
class PathTemplate:
    template: str
    methods: tuple[str, ...]
    regex: re.Pattern[str]


class PathTemplates:
    """Built from the app's OpenAPI schema on first use, when every route has been added."""

    def __init__(self, app: FastAPI) -> None:
        self._app = app
        self._templates: list[PathTemplate] | None = None

    def match(self, path: str) -> PathTemplate | None:
        if self._templates is None:
            self._templates = [
                PathTemplate(
                    template,
                    tuple(sorted(m.upper() for m in operations if m in _HTTP_METHODS)),
                    compile_path(template)[0],
                )
                for template, operations in self._app.openapi().get("paths", {}).items()
            ]
        return next((t for t in self._templates if t.regex.match(path)), None)
