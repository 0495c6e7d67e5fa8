"""Address register look-ups per second: in process and over HTTP, each beside a baseline.

* In process: ``resolve_receiver`` over the synthetic national register (a shuffled mix
  of organisation, service and person addressing with message types the receivers
  accept, plus some failures), beside a plain ``dict.get`` of the same HER-ids in the
  same loop. Target: over 1 million resolutions per second.
* Over HTTP: ``GET /v1/parties/{herId}`` and ``GET /v1/resolve`` against the look-up
  API served by uvicorn in a child process, beside the same server's ``/livez``,
  with the same client threads and keep-alive connections.

The ratios are the figures to watch; absolute numbers depend on the machine.
Run: ``.venv/bin/python bench/register.py`` (``make bench`` runs it).
"""

import multiprocessing
import random
import sys
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import httpx

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from addressregister.generator import generate_national_register  # noqa: E402
from addressregister.index import RegisterIndex  # noqa: E402
from addressregister.model import PartyKind  # noqa: E402
from addressregister.resolution import resolve_receiver  # noqa: E402
from addressregister.results import Resolution  # noqa: E402
from meldingshub.embedded_broker import free_port  # noqa: E402
from schemas.parties import PartyRef  # noqa: E402

SEED = 1
IN_PROCESS_SECONDS = 3.0
HTTP_SECONDS = 4.0
ROUNDS = 4
HTTP_THREADS = 4
TARGET_PER_SECOND = 1_000_000

Request = tuple[PartyRef, str, str | None]


def workload(index: RegisterIndex, rng: random.Random) -> list[Request]:
    """Requests as the router makes them; about 2 % fail (unknown or inactive receivers)."""
    requests: list[Request] = []
    for party in index:
        if party.kind is PartyKind.PERSON:
            ref = PartyRef(organisation_her_id=party.parent_her_id, person_her_id=party.her_id)
            requests.append((ref, "DIALOG_FORESPORSEL", "v1.1 2013-01-23"))
        elif party.kind in (PartyKind.SERVICE, PartyKind.DEPARTMENT):
            ref = PartyRef(organisation_her_id=party.parent_her_id, service_her_id=party.her_id)
            requests.append((ref, "DIALOG_NOTAT", "1.1"))
        elif party.business_type == "108":
            requests.append((PartyRef(party.her_id), "ERM92", None))
        else:
            requests.append((PartyRef(party.her_id), "DIALOG_SVAR", "1.1"))
    requests += [(PartyRef(rng.randint(1, 999)), "DIALOG_NOTAT", None) for _ in range(200)]
    rng.shuffle(requests)
    return requests


def best_rates(loops: list[Callable[[], int]], seconds: float) -> list[float]:
    """Operations per second of each loop, best of ROUNDS interleaved rounds.

    Interleaving and keeping the best round make the ratio robust to other work on
    the machine (each loop call returns how many operations it did).
    """
    best = [0.0] * len(loops)
    for loop in loops:
        loop()  # warm-up
    for _ in range(ROUNDS):
        for position, loop in enumerate(loops):
            done = 0
            start = time.perf_counter()
            while time.perf_counter() - start < seconds / ROUNDS:
                done += loop()
            best[position] = max(best[position], done / (time.perf_counter() - start))
    return best


def in_process(index: RegisterIndex, requests: list[Request]) -> tuple[float, float, float]:
    """Resolutions/s, dict look-ups/s and the share of requests that resolved."""
    at = datetime.now(UTC)
    table = {party.her_id: party for party in index}
    resolved = sum(isinstance(resolve_receiver(index, *r, at), Resolution) for r in requests)

    def resolve_all() -> int:
        for ref, message_type, version in requests:
            resolve_receiver(index, ref, message_type, version, at)
        return len(requests)

    def dict_all() -> int:
        get = table.get
        for ref, _message_type, _version in requests:
            get(ref.person_her_id or ref.service_her_id or ref.organisation_her_id or 0)
        return len(requests)

    resolves, lookups = best_rates([resolve_all, dict_all], IN_PROCESS_SECONDS)
    return resolves, lookups, resolved / len(requests)


def _serve(port: int) -> None:
    """Child process: the look-up API over the national register."""
    import uvicorn

    from addressregister.api import create_app
    from addressregister.live import StaticRegister

    index = RegisterIndex(generate_national_register(SEED))
    app = create_app(StaticRegister(index))
    uvicorn.run(app, host="127.0.0.1", port=port, log_level="warning", access_log=False)


def http_rate(base: str, paths: list[str], seconds: float) -> float:
    """Requests per second with HTTP_THREADS keep-alive clients cycling through ``paths``."""
    counts = [0] * HTTP_THREADS
    failures: list[str] = []
    stop_at = time.perf_counter() + seconds

    def client(slot: int) -> None:
        with httpx.Client(base_url=base, timeout=10) as http:
            position = slot
            while time.perf_counter() < stop_at:
                response = http.get(paths[position % len(paths)])
                if response.status_code >= 500:
                    failures.append(f"{response.status_code} {response.url}")
                position += HTTP_THREADS
                counts[slot] += 1

    start = time.perf_counter()
    threads = [threading.Thread(target=client, args=(n,)) for n in range(HTTP_THREADS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    if failures:
        raise SystemExit(f"server errors during the benchmark: {failures[:3]}")
    return sum(counts) / (time.perf_counter() - start)


def over_http(index: RegisterIndex, rng: random.Random) -> tuple[float, float, float]:
    """Look-ups/s, resolves/s and health checks/s against one server process."""
    port = free_port()
    server = multiprocessing.get_context("spawn").Process(target=_serve, args=(port,), daemon=True)
    server.start()
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(f"{base}/livez", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline or not server.is_alive():
                raise SystemExit("the look-up API did not start")
            time.sleep(0.1)
        her_ids = [party.her_id for party in index]
        lookups = [f"/v1/parties/{h}" for h in rng.sample(her_ids, 2000)]
        orgs = [p.her_id for p in index if p.kind is PartyKind.ORGANISATION]
        resolves = [
            f"/v1/resolve?organisationHerId={h}&messageType=DIALOG_SVAR&version=1.1"
            for h in rng.sample(orgs, 2000)
        ]
        best = {"health": 0.0, "lookup": 0.0, "resolve": 0.0}
        for _ in range(ROUNDS // 2):  # interleaved rounds, best of each (as in process)
            for name, paths in (("health", ["/livez"]), ("lookup", lookups), ("resolve", resolves)):
                rate = http_rate(base, paths, HTTP_SECONDS / 2)
                best[name] = max(best[name], rate)
        return best["lookup"], best["resolve"], best["health"]
    finally:
        server.terminate()
        server.join(10)


def main() -> int:
    """Print the rates and ratios."""
    started = time.perf_counter()
    rng = random.Random(SEED)
    index = RegisterIndex(generate_national_register(SEED))
    requests = workload(index, rng)
    print(f"national register: {len(index)} parties, {len(requests)} distinct requests")

    resolves, lookups, share = in_process(index, requests)
    verdict = "meets" if resolves >= TARGET_PER_SECOND else "below"
    print(f"in process  resolve_receiver  {resolves:>12,.0f} /s  ({share:.1%} resolved)")
    print(f"            dict.get baseline {lookups:>12,.0f} /s")
    print(
        f"            ratio {resolves / lookups:.3f} of a plain dict look-up; "
        f"{verdict} the 1 M/s target"
    )

    lookup, resolve, health = over_http(index, rng)
    print(
        f"over HTTP   GET /v1/parties/{{herId}} {lookup:>9,.0f} /s  ({HTTP_THREADS} client threads)"
    )
    print(f"            GET /v1/resolve          {resolve:>9,.0f} /s")
    print(f"            GET /livez baseline      {health:>9,.0f} /s")
    print(
        f"            ratio {lookup / health:.2f} (look-up) and {resolve / health:.2f} (resolve) "
        "of the health endpoint"
    )
    print(f"done in {time.perf_counter() - started:.1f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
