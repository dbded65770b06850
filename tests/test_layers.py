"""The layers import in one direction: the forecasting core knows nothing of the service
around it, and the HTTP layer leaves torch to the layers below (docs/architecture.md)."""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest

import app

APP = Path(app.__file__).parent

# What app/forecasting/ may never import: it is plain PyTorch and numpy, usable from a notebook.
FORBIDDEN_IN_FORECASTING = (
    "app.api",
    "app.serving",
    "app.store",
    "app.settings",
    "app.execution",
    "app.jobs",
    "app.main",
    "fastapi",
    "starlette",
    "pydantic_settings",
)
FORBIDDEN_IN_API = ("torch",)


def imported_modules(path: Path) -> Iterator[str]:
    """Every module a file imports, at any depth (inside functions too), as absolute names."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    package = ".".join(path.relative_to(APP.parent).with_suffix("").parts[:-1])
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:  # relative: resolved against the file's package
                base = package.rsplit(".", node.level - 1)[0] if node.level > 1 else package
                yield f"{base}.{node.module}" if node.module else base
            elif node.module is not None:
                yield node.module


def violations(folder: str, forbidden: tuple[str, ...]) -> list[str]:
    found = []
    for path in sorted((APP / folder).rglob("*.py")):
        for module in imported_modules(path):
            if any(module == name or module.startswith(f"{name}.") for name in forbidden):
                found.append(f"{path.relative_to(APP.parent)} imports {module}")
    return found


def test_the_forecasting_core_imports_nothing_of_the_service() -> None:
    assert violations("forecasting", FORBIDDEN_IN_FORECASTING) == []


def test_the_http_layer_does_not_import_torch() -> None:
    assert violations("api", FORBIDDEN_IN_API) == []


@pytest.mark.parametrize(
    ("source", "forbidden"),
    [
        ("from app.api.deps import service_of\n", "app.api"),
        ("import app.serving.limits\n", "app.serving"),
        ("from app.store import ModelStore\n", "app.store"),
        ("from app.settings import Settings\n", "app.settings"),
        ("def f():\n    from fastapi import FastAPI\n", "fastapi"),
        ("from pydantic_settings import BaseSettings\n", "pydantic_settings"),
        ("from ..store import ModelStore\n", "app.store"),
    ],
)
def test_the_check_sees_each_kind_of_import(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, source: str, forbidden: str
) -> None:
    """The checks above would fail on any of these in app/forecasting/."""
    fake_app = tmp_path / "app"
    (fake_app / "forecasting").mkdir(parents=True)
    (fake_app / "forecasting" / "bad.py").write_text(source)
    monkeypatch.setitem(globals(), "APP", fake_app)
    (found,) = violations("forecasting", (forbidden,))
    assert found.startswith("app/forecasting/bad.py imports ")
    assert found.endswith(forbidden) or f"{forbidden}." in found


def test_the_check_passes_torch_in_forecasting_and_fails_it_in_the_api(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    fake_app = tmp_path / "app"
    for folder in ("forecasting", "api"):
        (fake_app / folder).mkdir(parents=True)
        (fake_app / folder / "model.py").write_text("import torch\nfrom torch import nn\n")
    monkeypatch.setitem(globals(), "APP", fake_app)
    assert violations("forecasting", FORBIDDEN_IN_FORECASTING) == []
    assert violations("api", FORBIDDEN_IN_API) == [
        "app/api/model.py imports torch",
        "app/api/model.py imports torch",
    ]
