"""Drive wrk (a standard HTTP load generator, `apt-get install wrk`) and read its results.

Every run uses the same Lua script shape, so endpoints are compared under the same client-side
cost. The script cycles through its requests (one for the load runs, several for the soak),
counts each distinct 200 body (a fixed request gets one body per model version, so the table
stays tiny; the soak, whose bodies vary, does not record them) and every other status, and
writes those counts, wrk's socket errors and its latency percentiles to a file at the end.
"""

from __future__ import annotations

import json
import shutil
import statistics
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

LUA = """
local specs = {specs}
local record_bodies = {record}
local prepared = {{}}
local next_index = 0
counts = {{}}
statuses = {{}}
local threads = {{}}

function setup(thread)
  table.insert(threads, thread)
end

function init(args)
  for i, spec in ipairs(specs) do
    local headers = {{}}
    if spec[3] ~= "" then headers["Content-Type"] = "application/json" end
    prepared[i] = wrk.format(spec[1], spec[2], headers, spec[3] ~= "" and spec[3] or nil)
  end
end

function request()
  next_index = next_index % #prepared + 1
  return prepared[next_index]
end

function response(status, headers, body)
  if status == 200 then
    if record_bodies then counts[body] = (counts[body] or 0) + 1 end
  else
    statuses[tostring(status)] = (statuses[tostring(status)] or 0) + 1
  end
end

function done(summary, latency, requests)
  local out = io.open({out}, "w")
  out:write("requests\\t", summary.requests, "\\n")
  out:write("duration_us\\t", summary.duration, "\\n")
  for _, kind in ipairs({{"connect", "read", "write", "timeout", "status"}}) do
    out:write("socket_" .. kind .. "\\t", summary.errors[kind], "\\n")
  end
  for _, p in ipairs({{50, 90, 99}}) do
    out:write("p" .. p .. "_us\\t", latency:percentile(p), "\\n")
  end
  for _, thread in ipairs(threads) do
    for status, n in pairs(thread:get("statuses")) do
      out:write("status_" .. status .. "\\t", n, "\\n")
    end
    for body, n in pairs(thread:get("counts")) do
      out:write("body\\t", n, "\\t", body, "\\n")
    end
  end
  out:close()
end
"""


def lua_string(text: str) -> str:
    return json.dumps(text)  # a JSON string literal is a valid Lua string literal here


@dataclass(frozen=True)
class Endpoint:
    label: str
    method: str
    path: str
    body: dict[str, object] | None = None


@dataclass
class Run:
    endpoint: str
    connections: int
    requests: int
    seconds: float
    p50_ms: float
    p90_ms: float
    p99_ms: float
    errors: dict[str, int] = field(default_factory=dict)  # socket errors and non-200 statuses
    bodies: dict[str, int] = field(default_factory=dict)  # distinct 200 bodies -> count

    @property
    def rps(self) -> float:
        return self.requests / self.seconds

    @property
    def error_count(self) -> int:
        return sum(self.errors.values())


def ensure_wrk() -> str:
    found = shutil.which("wrk")
    if found is None:
        raise SystemExit(
            "wrk is not installed: `apt-get install -y wrk` (Debian/Ubuntu) and run again"
        )
    return found


def wrk_command(
    base_url: str,
    endpoints: list[Endpoint],
    connections: int,
    seconds: int,
    workdir: Path,
    label: str,
    *,
    record_bodies: bool = True,
) -> tuple[list[str], Path]:
    """The wrk command line (one thread: the other core stays with the server) and the file
    its script writes the results to."""
    out = workdir / f"wrk-{label}-{connections}.tsv"
    script = workdir / f"wrk-{label}.lua"
    specs = ", ".join(
        "{"
        + ", ".join(
            lua_string(part)
            for part in (
                e.method,
                e.path,
                json.dumps(e.body, separators=(",", ":")) if e.body else "",
            )
        )
        + "}"
        for e in endpoints
    )
    script.write_text(
        LUA.format(
            specs="{" + specs + "}",
            record="true" if record_bodies else "false",
            out=lua_string(str(out)),
        )
    )
    out.unlink(missing_ok=True)
    command = [ensure_wrk(), "-t1", f"-c{connections}", f"-d{seconds}s", "--timeout", "10s"]
    return [*command, "-s", str(script), base_url], out


def run_wrk(
    base_url: str, endpoint: Endpoint, connections: int, seconds: int, workdir: Path
) -> Run:
    """One wrk run of one endpoint."""
    command, out = wrk_command(base_url, [endpoint], connections, seconds, workdir, endpoint.label)
    subprocess.run(command, check=True, stdout=subprocess.DEVNULL, timeout=seconds + 60)
    return parse(out, endpoint.label, connections)


def parse(path: Path, label: str, connections: int) -> Run:
    values: dict[str, float] = {}
    errors: dict[str, int] = {}
    bodies: dict[str, int] = {}
    for line in path.read_text().splitlines():
        key, _, rest = line.partition("\t")
        if key == "body":
            count, _, body = rest.partition("\t")
            bodies[body] = bodies.get(body, 0) + int(count)
        elif key.startswith("status_"):
            errors[key] = errors.get(key, 0) + int(rest)
        elif key.startswith("socket_") and key != "socket_status":
            if int(rest):
                errors[key] = int(rest)
        else:
            values[key] = float(rest)
    return Run(
        endpoint=label,
        connections=connections,
        requests=int(values["requests"]),
        seconds=values["duration_us"] / 1e6,
        p50_ms=values["p50_us"] / 1000,
        p90_ms=values["p90_us"] / 1000,
        p99_ms=values["p99_us"] / 1000,
        errors=errors,
        bodies=bodies,
    )


@dataclass(frozen=True)
class Summary:
    """Medians over repeated runs of one endpoint at one concurrency."""

    endpoint: str
    connections: int
    runs: int
    rps: float
    p50_ms: float
    p99_ms: float
    errors: int
    requests: int

    @classmethod
    def of(cls, runs: list[Run]) -> Summary:
        return cls(
            endpoint=runs[0].endpoint,
            connections=runs[0].connections,
            runs=len(runs),
            rps=statistics.median(r.rps for r in runs),
            p50_ms=statistics.median(r.p50_ms for r in runs),
            p99_ms=statistics.median(r.p99_ms for r in runs),
            errors=sum(r.error_count for r in runs),
            requests=sum(r.requests for r in runs),
        )
