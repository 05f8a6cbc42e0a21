"""What the benchmarks need to know about this machine and their processes (Linux /proc).

Shared by the bench scripts, which import it by name (bench/ is on their sys.path).
"""

from __future__ import annotations

import contextlib
import json
import os
import platform
import signal
import subprocess
import sys
from collections.abc import Callable, Iterator, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

REPO_ROOT = Path(__file__).resolve().parent.parent
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def _children_map() -> dict[int, list[int]]:
    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            stat = Path(f"/proc/{entry}/stat").read_text()
        except OSError:
            continue  # gone meanwhile
        # The command name is in parentheses and may hold spaces: fields follow the last ")".
        ppid = int(stat.rpartition(")")[2].split()[1])
        children.setdefault(ppid, []).append(int(entry))
    return children


def process_tree(root: int) -> list[int]:
    """root and all its descendants."""
    children = _children_map()
    tree, todo = [], [root]
    while todo:
        pid = todo.pop()
        tree.append(pid)
        todo.extend(children.get(pid, []))
    return tree


def _proc_kib(path: str, key: str) -> int:
    try:
        with open(path) as lines:
            for line in lines:
                if line.startswith(key + ":"):
                    return int(line.split()[1])
    except OSError:
        pass  # the process ended: it holds nothing
    return 0


def vm_rss_bytes(pid: int) -> int:
    return _proc_kib(f"/proc/{pid}/status", "VmRSS") * 1024


def pss_bytes(pid: int) -> int:
    return _proc_kib(f"/proc/{pid}/smaps_rollup", "Pss") * 1024


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of one process so far (0 when it is gone)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS  # utime, stime


def stop_process(process: subprocess.Popen[bytes], seconds: float = 20) -> None:
    """SIGTERM, wait, SIGKILL; then kill any of its children that outlived it."""
    children = [p for p in process_tree(process.pid) if p != process.pid]
    if process.poll() is None:
        process.terminate()
    try:
        process.wait(seconds)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()
    for pid in children:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)


@contextlib.contextmanager
def _sigterm_as_interrupt() -> Iterator[None]:
    """SIGTERM unwinds like Ctrl-C, so that every `finally` stops what it started."""

    def interrupt(*_: object) -> None:
        raise KeyboardInterrupt

    previous = signal.signal(signal.SIGTERM, interrupt)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def run_command(
    name: str,
    argv: Sequence[str] | None,
    run: Callable[[str], dict[str, Any]],
    errors: tuple[type[BaseException], ...],
) -> dict[str, Any]:
    """`run(command)`, given the command line as a user types it. SIGTERM unwinds like Ctrl-C;
    exits 130 when interrupted and 2 on one of `errors` (a set-up that failed), saying why."""
    command = f"python bench/{name}.py " + " ".join(argv if argv is not None else sys.argv[1:])
    try:
        with _sigterm_as_interrupt():
            return run(command.strip())
    except KeyboardInterrupt:
        print(f"{name}: interrupted; everything started was stopped", file=sys.stderr)
        raise SystemExit(130) from None
    except errors as exc:
        print(f"{name}: {exc}", file=sys.stderr)
        raise SystemExit(2) from None


def write_results(
    out: Path,
    name: str,
    result: dict[str, Any],
    markdown: str,
    render_plot: Callable[[dict[str, Any], Path], bool],
) -> None:
    """`name`.md, .json and .png in `out`; the markdown printed too."""
    out.mkdir(parents=True, exist_ok=True)
    (out / f"{name}.md").write_text(markdown, encoding="utf-8")
    (out / f"{name}.json").write_text(json.dumps(result, indent=1) + "\n")
    render_plot(result, out / f"{name}.png")
    print(markdown)


def command_version(command: list[str]) -> str:
    try:
        done = subprocess.run(command, capture_output=True, text=True, timeout=30)
    except (OSError, subprocess.TimeoutExpired):
        return "unknown"
    text = (done.stdout + done.stderr).strip()
    return text.splitlines()[0] if text else "unknown"


def package_version(package: str) -> str:
    return command_version(["dpkg-query", "-W", "-f", "${Version}", package])


def _cpu_model() -> str:
    with contextlib.suppress(OSError), open("/proc/cpuinfo") as cpuinfo:
        for line in cpuinfo:
            if line.startswith("model name"):
                return line.partition(":")[2].strip()
    return platform.processor() or "unknown"


def machine_info() -> dict[str, Any]:
    """The machine, the commit and the Envoy a result was measured with."""
    from airlock_microgateway.gateway import envoy_binary

    envoy = command_version([envoy_binary(), "--version"])
    return {
        "date": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "commit": command_version(["git", "-C", str(REPO_ROOT), "rev-parse", "--short", "HEAD"]),
        # Others edit the tree while this runs: say which tracked files differed from the commit.
        "uncommitted": subprocess.run(
            ["git", "-C", str(REPO_ROOT), "diff", "--name-only", "HEAD"],
            capture_output=True,
            text=True,
        ).stdout.split(),
        "python": platform.python_version(),
        "platform": platform.platform(),
        "cpu": _cpu_model(),
        "cpus": os.cpu_count(),
        "memory_gib": round(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30, 1),
        "envoy": envoy.partition("version: ")[2] or envoy,
        "load_before": os.getloadavg(),
    }
