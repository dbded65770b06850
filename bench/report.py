"""A small markdown report builder and number formats shared by the benchmarks."""

from __future__ import annotations


class Report:
    """Markdown lines in order; `block()` reserves a place to fill once its figures exist."""

    def __init__(self) -> None:
        self._lines: list[str | Report] = []

    def block(self) -> Report:
        block = Report()
        self._lines.append(block)
        return block

    def title(self, text: str) -> None:
        self._lines += [f"# {text}", ""]

    def section(self, text: str) -> None:
        if self._lines and self._lines[-1] != "" and not isinstance(self._lines[-1], Report):
            self._lines.append("")
        self._lines += [f"## {text}", ""]

    def line(self, text: str) -> None:
        self._lines.append(text)

    def table(self, header: list[str], rows: list[list[str]]) -> None:
        self._lines.append("| " + " | ".join(header) + " |")
        self._lines.append("|" + "|".join(" --- " for _ in header) + "|")
        self._lines += ["| " + " | ".join(row) + " |" for row in rows]
        self._lines.append("")

    def text(self) -> str:
        # A block's text ends with a newline: the blank line before whatever follows it.
        parts = [item.text() if isinstance(item, Report) else item for item in self._lines]
        return "\n".join(parts).rstrip() + "\n"


def fmt_s(seconds: float) -> str:
    return f"{seconds:.3f}" if seconds < 1 else f"{seconds:.2f}"


def fmt_mse(value: float) -> str:
    return f"{value:.2e}"


def fmt_ratio(value: float) -> str:
    return f"{value:.1f}x"


def verdict(met: bool) -> str:
    return "met" if met else "**missed**"
