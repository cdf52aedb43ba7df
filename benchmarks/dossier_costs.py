"""Where a dossier's CPU goes, call by call: the dossier benchmark's path in one process, each API call timed.

Each call of the simulated applicant and staff is timed in CPU (every thread of the process: a call waits for the
workflow it starts, so the workflow's steps are counted with the call that started them) and in the request's own
thread. Printed per kind of call, per dossier, largest first, with the CPU spent outside the calls (background
loops, workflows still running after an answer) and, as the baseline measured in the same run, a status read
(`GET /dossiers/{id}`: the middleware, the access check and the status, no write), so each call reads as a
multiple of the cheapest round trip through the stack.

    .venv/bin/python benchmarks/dossier_costs.py [--dossiers 100] [--product garantie_automobile]
"""

from __future__ import annotations

import argparse
import os
import re
import threading
import time
from collections import Counter, defaultdict
from pathlib import Path
from typing import Any

import dossiers  # noqa: F401 - sets up the benchmark's own folder and Django (its folder is on the path)
from django.conf import settings
from django.core.management import call_command
from django.test.client import ClientHandler

from souscription import simulation
from souscription.platform import workflows

_process: defaultdict[str, float] = defaultdict(float)
_thread: defaultdict[str, float] = defaultdict(float)
_count: Counter[str] = Counter()
_measuring = {"on": False}
_IDS = re.compile(r"SUB-\d{4}-\d+|[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
_call = simulation.Api.call


def _timed_call(self: simulation.Api, method: str, path: str, body: Any = None, *, expect: int = 200) -> Any:
    if not _measuring["on"]:
        return _call(self, method, path, body, expect=expect)
    kind = f"{method.upper()} {_IDS.sub('{id}', path)}"
    process, thread = time.process_time(), time.thread_time()
    try:
        return _call(self, method, path, body, expect=expect)
    finally:
        _process[kind] += time.process_time() - process
        _thread[kind] += time.thread_time() - thread
        _count[kind] += 1


def threads_cpu() -> dict[str, float]:
    """CPU seconds of each live thread of this process, by the thread's name without its number (Linux)."""
    tick = os.sysconf("SC_CLK_TCK")
    spent: dict[str, float] = defaultdict(float)
    for thread in threading.enumerate():
        try:
            fields = Path(f"/proc/self/task/{thread.native_id}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        spent[re.sub(r"[-_]?\d+(?:_\d+)?$", "", thread.name)] += (int(fields[11]) + int(fields[12])) / tick
    return spent


def status_read_ms(product: str, reads: int = 300) -> float:
    """CPU of one status read: a dossier opened by an applicant of its own, read again and again through the same
    stack (after a few reads to warm the caches)."""
    staff = simulation.Staff(ClientHandler(enforce_csrf_checks=False), team="probe")
    api = simulation.Api(simulation.web_client(staff.handler), simulation.Outcome())
    opened = api.call("post", "/dossiers", {"product": product}, expect=201)
    api.token, path = str(opened["applicant_token"]), f"/dossiers/{opened['subscription_id']}"
    for _ in range(20):
        api.call("get", path)
    started = time.process_time()
    for _ in range(reads):
        api.call("get", path)
    return 1000 * (time.process_time() - started) / reads


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--dossiers", type=int, default=100)
    parser.add_argument("--product", default="garantie_automobile")
    args = parser.parse_args()
    call_command("migrate", verbosity=0)
    workflows.launch(settings.SOUSCRIPTION, executor_id="costs")
    simulation.Api.call = _timed_call  # type: ignore[method-assign]
    try:
        simulation.simulate(product=args.product, count=3, seed=1, first=100_000, team="warm")
        marks: dict[str, Any] = {}

        def ready() -> None:  # the staff is signed in (password hashing is not a dossier's cost): the clock starts
            _measuring["on"] = True
            marks.update(started=time.process_time(), threads=threads_cpu())

        outcome = simulation.simulate(product=args.product, count=args.dossiers, seed=2026, team="costs", ready=ready)
        total_ms = 1000 * (time.process_time() - marks["started"]) / args.dossiers
        threads_before = marks["threads"]
        threads_after = threads_cpu()
        _measuring["on"] = False
        baseline = status_read_ms(args.product)
    finally:
        simulation.Api.call = _call  # type: ignore[method-assign]
        workflows.shutdown()
    count = args.dossiers
    in_calls = 1000 * sum(_process.values()) / count
    print(f"product {args.product}, {count} dossiers, final stages {dict(outcome.stages)}")
    print(f"CPU per dossier: {total_ms:.1f} ms, of which in API calls {in_calls:.1f} ms")
    print(f"baseline, one status read (GET /dossiers/{{id}}): {baseline:.2f} ms")
    print(f"{'call':44} {'per dossier':>11} {'CPU ms/dossier':>15} {'request thread':>15} {'x status read':>14}")
    for kind in sorted(_process, key=lambda name: -_process[name]):
        each = 1000 * _process[kind] / _count[kind]
        print(
            f"{kind:44} {_count[kind] / count:11.2f} {1000 * _process[kind] / count:15.1f} "
            f"{1000 * _thread[kind] / count:15.1f} {each / baseline:14.1f}"
        )
    print(f"{'outside the calls':44} {'':11} {total_ms - in_calls:15.1f}")
    print("CPU by thread, ms per dossier (in clock ticks, the threads alive at the end):")
    by_thread = {
        name: 1000 * (seconds - threads_before.get(name, 0.0)) / count for name, seconds in threads_after.items()
    }
    for name, spent in sorted(by_thread.items(), key=lambda item: -item[1]):
        if spent >= 0.05:
            print(f"  {name:42} {spent:8.1f}")
    print(f"  {'(threads that ended during the run)':42} {total_ms - sum(by_thread.values()):8.1f}")


if __name__ == "__main__":
    main()
