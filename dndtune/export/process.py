"""Run the export's subprocesses (converter, llama.cpp worker) and turn their failures into one-line errors."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

from dndtune.errors import DndtuneError


def run_llama_worker(task: str, request: dict[str, Any], *, what: str, path: Path | None = None,
                     timeout: float | None = None) -> dict[str, Any]:
    """Run :mod:`dndtune.export.llama_worker` ``task``; returns its JSON result or raises with its last error line."""
    with tempfile.TemporaryDirectory(prefix="dndtune-llama-") as tmp:
        req = Path(tmp) / "request.json"
        res = Path(tmp) / "result.json"
        req.write_text(json.dumps(request), encoding="utf-8")
        proc = run_process([sys.executable, "-m", "dndtune.export.llama_worker", task, str(req), str(res)],
                           what=what, path=path, env=worker_env(), timeout=timeout, check=False)
        if not res.is_file():
            raise DndtuneError(f"{what} failed: {last_error_line(proc.stderr)}", path=str(path) if path else None,
                               fix="see the llama.cpp message above; a corrupt or truncated GGUF must be re-exported")
        result: dict[str, Any] = json.loads(res.read_text(encoding="utf-8"))
        result["stderr_tail"] = proc.stderr[-4000:]
        return result


def worker_env() -> dict[str, str]:
    """The llama worker's environment: OpenMP threads that sleep instead of spinning while idle.

    llama.cpp's OpenMP threads busy-wait between ops by default; when cores are shared (CI, a
    laptop doing other work, a phone) spinning threads starve each other and decoding got 40x
    slower in our measurements. A user's explicit OMP_WAIT_POLICY still wins.
    """
    env = dict(os.environ)
    env.setdefault("OMP_WAIT_POLICY", "PASSIVE")
    return env


def run_process(cmd: list[str], *, what: str, path: Path | None = None, env: dict[str, str] | None = None,
                timeout: float | None = None, check: bool = True) -> subprocess.CompletedProcess[str]:
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=timeout,
                              stdin=subprocess.DEVNULL)
    except subprocess.TimeoutExpired:
        raise DndtuneError(f"{what} took longer than {timeout:.0f} s", path=str(path) if path else None,
                           fix="retry on an idle machine") from None
    if check and proc.returncode != 0:
        raise DndtuneError(f"{what} failed: {last_error_line(proc.stderr)}", path=str(path) if path else None)
    return proc


def last_error_line(stderr: str) -> str:
    """The most telling line of a child's stderr: the last error-looking one, else the last line."""
    lines = [line.strip() for line in stderr.splitlines() if line.strip()]
    for line in reversed(lines):
        lowered = line.lower()
        if "error" in lowered or "failed" in lowered or "exception" in lowered or "abort" in lowered:
            return line[:300]
    return lines[-1][:300] if lines else "no output (killed?)"
