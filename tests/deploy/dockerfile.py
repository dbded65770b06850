"""A small reader of the Dockerfile's instructions, for the deployment tests."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
DOCKERFILE = ROOT / "Dockerfile"


@dataclass
class Stage:
    base: str
    name: str | None
    instructions: list[tuple[str, str]] = field(default_factory=list)

    def values(self, keyword: str) -> list[str]:
        return [value for key, value in self.instructions if key == keyword]


def instructions(text: str) -> list[tuple[str, str]]:
    """(KEYWORD, arguments) pairs; continuation lines joined, comment lines dropped."""
    result: list[tuple[str, str]] = []
    pending = ""
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        if line.endswith("\\"):
            pending += line[:-1] + " "
            continue
        keyword, _, arguments = (pending + line).partition(" ")
        result.append((keyword.upper(), " ".join(arguments.split())))
        pending = ""
    return result


def stages(text: str | None = None) -> list[Stage]:
    parsed = instructions(DOCKERFILE.read_text() if text is None else text)
    args = {}
    for key, value in parsed:
        if key == "FROM":
            break
        if key == "ARG" and "=" in value:
            name, _, default = value.partition("=")
            args[name] = default
    result: list[Stage] = []
    for key, value in parsed:
        if key == "FROM":
            image, _, name = value.partition(" AS ")
            for arg, default in args.items():
                image = image.replace(f"${{{arg}}}", default)
            result.append(Stage(image, name or None))
        elif result:
            result[-1].instructions.append((key, value))
    return result


def final_stage() -> Stage:
    return stages()[-1]
