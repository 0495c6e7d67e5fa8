"""Soak of the embedded default: `meldingshub run` with its simulated stream, memory each minute.

Runs `meldingshub run` (embedded broker, simulated stream) in a fresh data
directory for ``--minutes`` (default 10), reads the resident memory of the hub,
the embedded broker and the whole process tree every 10 s and prints them at each
minute, with the tree's peak in that minute, the messages routed so far and the
machine's load average (other work on a shared machine slows the hub, not its
memory per message). At the end: growth per minute of each (from the first minute
on, a least-squares slope over every sample), the routing rate, the tree's growth as
a ratio of the issue's bound of 3 MB a minute, and each checkpoint as the hub logged
it (records kept, seconds, the pause). The broker's checkpoints make a saw tooth,
and a slope over a run that stops part-way up a tooth measures where it stopped; so
the growth of the tree's peak before each checkpoint (the same phase of every tooth) is
given too, and the memory of each right after each restore (another same phase; the
broker's is what the checkpoint kept). Issue #20; the figures measured are in
bench/README.md. Not part of `make test` (it takes minutes); `make bench` runs it with the
default.

    .venv/bin/python bench/embedded_soak.py [--minutes 10] [--rate 40] [--keep DIR]
"""

import argparse
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


from meldingshub.embedded_process import children, command_name, free_port, rss_bytes

MB = 1_000_000
BOUND_MB_PER_MIN = 3.0
SAMPLE_S = 10


@dataclass(frozen=True, slots=True)
class Sample:
    """The figures of one minute."""

    minute: float
    hub: int
    broker: int
    tree: int
    routed: int


def _tree_memory(hub_pid: int) -> tuple[int, int, int]:
    """RSS of the hub, of the broker (Tansu) and of the whole process tree."""
    hub = rss_bytes(hub_pid) or 0
    broker = other = 0
    for pid in children(hub_pid):
        rss = rss_bytes(pid) or 0
        if command_name(pid).startswith("tansu"):
            broker += rss
        else:
            other += rss
    return hub, broker, hub + broker + other


def _routed(ops: str) -> int:
    """Messages routed so far, from the hub's own /metrics."""
    try:
        with urllib.request.urlopen(f"{ops}/metrics", timeout=5) as answer:  # noqa: S310 (loopback)
            text = answer.read().decode()
    except OSError:
        return -1
    total = 0.0
    for line in text.splitlines():
        if line.startswith("meldingshub_messages_total{") and 'outcome="routed"' in line:
            total += float(line.rsplit(" ", 1)[1])
    return int(total)


def _wait_ready(ops: str, process: subprocess.Popen[bytes], timeout_s: float) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SystemExit(f"meldingshub run exited with {process.returncode} before ready")
        try:
            with urllib.request.urlopen(f"{ops}/readyz", timeout=2) as answer:  # noqa: S310
                if answer.status == 200:
                    return
        except OSError:
            pass
        time.sleep(0.5)
    raise SystemExit(f"meldingshub run was not ready within {timeout_s:g} s")


def slope(points: list[tuple[float, float]]) -> float:
    """Least-squares slope of ``(x, y)`` points (0 for fewer than two)."""
    if len(points) < 2:
        return 0.0
    n = len(points)
    mean_x = sum(x for x, _ in points) / n
    mean_y = sum(y for _, y in points) / n
    var = sum((x - mean_x) ** 2 for x, _ in points)
    return sum((x - mean_x) * (y - mean_y) for x, y in points) / var if var else 0.0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, default=10.0, help="how long to run (default 10)")
    parser.add_argument("--rate", type=float, default=None, help="simulated messages per second")
    parser.add_argument("--keep", type=Path, default=None, help="data directory to use and keep")
    args = parser.parse_args()
    data_dir = args.keep or Path(tempfile.mkdtemp(prefix="meldingshub-soak-"))
    data_dir.mkdir(parents=True, exist_ok=True)
    ops = f"127.0.0.1:{free_port()}"
    broker_port = free_port()
    env = {
        **os.environ,
        "MELDINGSHUB_DATA_DIR": str(data_dir),
        "MELDINGSHUB_KAFKA__EMBEDDED_PORT": str(broker_port),
        "MELDINGSHUB_HTTP__API_BIND": f"127.0.0.1:{free_port()}",
        "MELDINGSHUB_HTTP__OPS_BIND": ops,
        "MELDINGSHUB_LOG__FORMAT": "json",
    }
    env.pop("MELDINGSHUB_KAFKA__BOOTSTRAP_SERVERS", None)
    env.setdefault(
        "PYTHONMALLOC", "malloc"
    )  # as `make run` runs it; PYTHONMALLOC=pymalloc to compare
    command = [sys.executable, "-c", "from meldingshub.cli import main; main()", "run"]
    if args.rate is not None:
        command += ["--rate", str(args.rate)]
    # Killed itself, the soak still stops its hub (the finally below).
    signal.signal(signal.SIGTERM, lambda _signum, _frame: sys.exit(1))
    log_path = data_dir / "soak.log"
    print(f"data directory {data_dir}; hub log {log_path}" + ("" if args.keep else " (removed)"))
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            command, env=env, cwd=data_dir, stdout=log, stderr=subprocess.STDOUT
        )
        try:
            _wait_ready(f"http://{ops}", process, timeout_s=300)
            samples = _soak(process, f"http://{ops}", args.minutes)
        finally:
            process.send_signal(signal.SIGINT)
            try:
                process.wait(60)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
    _summary(samples)
    _checkpoints(log_path)
    if args.keep is None:
        shutil.rmtree(data_dir, ignore_errors=True)


def _soak(process: subprocess.Popen[bytes], ops: str, minutes: float) -> list[Sample]:
    """Memory every ``SAMPLE_S`` (a checkpoint makes a saw tooth: a minute's sample alone
    would land anywhere on it); a row per minute."""
    started = time.monotonic()
    samples: list[Sample] = []
    print(
        f"{'min':>4} {'hub MB':>8} {'broker MB':>10} {'tree MB':>8} {'tree max':>9} "
        f"{'routed':>8} {'load':>5}",
        flush=True,
    )
    tick = 0
    while tick * SAMPLE_S <= minutes * 60:
        time.sleep(max(0.0, started + tick * SAMPLE_S - time.monotonic()))
        if process.poll() is not None:
            raise SystemExit(f"meldingshub run exited with {process.returncode} during the soak")
        hub, broker, tree = _tree_memory(process.pid)
        sample = Sample(tick * SAMPLE_S / 60, hub, broker, tree, _routed(ops))
        samples.append(sample)
        if tick % (60 // SAMPLE_S) == 0:
            minute = [s.tree for s in samples if s.minute > sample.minute - 1]
            print(
                f"{sample.minute:>4.0f} {hub / MB:>8.1f} {broker / MB:>10.1f} {tree / MB:>8.1f} "
                f"{max(minute) / MB:>9.1f} {sample.routed:>8} {os.getloadavg()[0]:>5.1f}",
                flush=True,
            )
        tick += 1
    return samples


def _checkpoints(log_path: Path) -> None:
    """The hub's own account of each checkpoint: what it kept, how long it paused."""
    events: list[dict[str, object]] = []
    for line in log_path.read_text(encoding="utf-8", errors="replace").splitlines():
        if line.startswith("{") and ("checkpoint" in line or "restored" in line):
            try:
                events.append(json.loads(line))
            except ValueError:
                continue
    print("checkpoints (the hub's log):")
    for event in events:
        name = str(event.get("event"))
        if name == "embedded broker checkpointed":
            print(
                f"  kept {event['records_kept']} of {event['records_read']} records "
                f"({event['kept_mb']} MB) in {event['seconds']} s; most: {event['most_kept']}"
            )
        elif name == "embedded broker restored from its checkpoint":
            print(f"  restored in {event['seconds']} s; broker then {event.get('broker_mb')} MB")
        elif name == "hub ready again after a checkpoint":
            print(f"  components paused {event['paused_s']} s in all")


def _summary(samples: list[Sample]) -> None:
    steady = [s for s in samples if s.minute >= 1]
    print(f"least squares over {len(steady)} samples from minute 1, one every {SAMPLE_S} s:")
    for name in ("hub", "broker", "tree"):
        rate = slope([(s.minute, getattr(s, name) / MB) for s in steady])
        print(f"growth {name:<8} {rate:8.2f} MB/min")
    tree = slope([(s.minute, s.tree / MB) for s in steady])
    routed = slope([(s.minute, float(s.routed)) for s in steady]) / 60
    broker = slope([(s.minute, s.broker / MB) for s in steady])
    print(f"routed {routed:.1f} msg/s")
    if routed > 0:
        print(f"broker growth per routed message: {broker * MB / (routed * 60) / 1000:.1f} kB")
    print(
        f"whole tree: {tree:.2f} MB/min, {tree / BOUND_MB_PER_MIN:.2f} of the "
        f"{BOUND_MB_PER_MIN:g} MB/min bound ({'met' if tree < BOUND_MB_PER_MIN else 'NOT met'})"
    )
    restores = [i for i in range(1, len(samples)) if _restored(samples[i - 1], samples[i])]
    if len(restores) < 2:
        print("fewer than two checkpoints: no peaks to compare")
        return
    # The peak before each checkpoint is the same phase of the saw every time.
    starts = [0, *restores[:-1]]
    peaks = [max(samples[j:i], key=lambda s: s.tree) for j, i in zip(starts, restores, strict=True)]
    rate = slope([(s.minute, s.tree / MB) for s in peaks])
    print(
        f"whole tree's peak before each checkpoint: "
        f"{', '.join(f'{s.tree / MB:.0f}' for s in peaks)} MB, {rate:.2f} MB/min, "
        f"{rate / BOUND_MB_PER_MIN:.2f} of the bound "
        f"({'met' if rate < BOUND_MB_PER_MIN else 'NOT met'})"
    )
    for name in ("broker", "hub", "tree"):
        floors = [samples[i] for i in restores]
        rate = slope([(s.minute, getattr(s, name) / MB) for s in floors])
        values = ", ".join(f"{getattr(s, name) / MB:.0f}" for s in floors)
        print(f"{name} right after each restore: {values} MB, {rate:.2f} MB/min")


def _restored(before: Sample, after: Sample) -> bool:
    """The broker restarted between two samples: its memory fell to less than half."""
    return after.broker < before.broker / 2


if __name__ == "__main__":
    main()
