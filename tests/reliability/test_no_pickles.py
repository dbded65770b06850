"""No code path in app/ unpickles data from disk or the network: no pickle-family imports, and
every torch.load passes weights_only=True (numpy loads refuse pickles too)."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

APP = Path(__file__).resolve().parents[2] / "app"
PICKLE_MODULES = {"pickle", "_pickle", "cPickle", "dill", "cloudpickle", "joblib", "shelve"}
SOURCES = sorted(APP.rglob("*.py"))


def _calls(tree: ast.AST, attribute: str) -> list[ast.Call]:
    return [
        node
        for node in ast.walk(tree)
        if isinstance(node, ast.Call)
        and isinstance(node.func, ast.Attribute)
        and node.func.attr == attribute
    ]


def _keyword(call: ast.Call, name: str) -> object:
    for keyword in call.keywords:
        if keyword.arg == name and isinstance(keyword.value, ast.Constant):
            return keyword.value.value
    return None


@pytest.mark.parametrize("path", SOURCES, ids=[str(p.relative_to(APP)) for p in SOURCES])
def test_no_pickle_loading(path: Path) -> None:
    tree = ast.parse(path.read_text(), filename=str(path))
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names = {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom):
            names = {(node.module or "").split(".")[0]}
        else:
            continue
        assert not names & PICKLE_MODULES, f"{path}:{node.lineno} imports {names}"
    for call in _calls(tree, "load"):
        owner = call.func.value  # type: ignore[attr-defined]
        if isinstance(owner, ast.Name) and owner.id == "torch":
            assert _keyword(call, "weights_only") is True, f"{path}:{call.lineno}"
        if isinstance(owner, ast.Name) and owner.id in {"np", "numpy"}:
            assert _keyword(call, "allow_pickle") in (None, False), f"{path}:{call.lineno}"


def test_the_checkpoint_loader_is_checked() -> None:
    """The scan above sees the one torch.load there is (it would pass vacuously otherwise)."""
    source = (APP / "forecasting" / "checkpoint.py").read_text()
    assert len(_calls(ast.parse(source), "load")) >= 1
