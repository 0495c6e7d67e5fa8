"""HTTP ingress throughput: accepted messages per second beside the same server's no-op rate.

A uvicorn child process serves the real ingress API (bearer token, hardened XML
check, sender check, durable acks=all write to ``hub.inbound`` before the 202) and
a no-op endpoint that only reads the body and answers 202. The same concurrent
keep-alive clients post the corpus mix (every family, real sizes) to each, in
interleaved rounds; the ratio of the two rates is the figure to watch (absolute
numbers depend on the machine and on the client, which runs in Python too).

The broker is ``KAFKA_BOOTSTRAP_SERVERS`` when set (a fresh topic is used), else an
embedded broker started for the run; ``BENCH_CLIENTS`` sets the concurrent clients (16).
Run: ``.venv/bin/python bench/ingress.py`` (``make bench`` runs it); under a minute.
"""

import multiprocessing
import os
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path

import httpx

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from access.principals_file import add_credentials  # noqa: E402
from addressregister.fileformat import read_register_file, write_register_file  # noqa: E402
from addressregister.index import RegisterIndex  # noqa: E402
from addressregister.live import StaticRegister  # noqa: E402
from addressregister.model import CommunicationParty, PartyKind  # noqa: E402
from kafka_io import ensure_topics  # noqa: E402
from kafka_io.settings import KafkaSettings, TopicSettings, TopicSpec  # noqa: E402
from meldingshub.embedded_broker import EmbeddedBroker, free_port  # noqa: E402
from schemas.catalogue import default_catalogue  # noqa: E402
from schemas.envelope import read_envelope  # noqa: E402
from schemas.errors import MessageRejectedError  # noqa: E402
from schemas.xmlparse import ParseLimits, parse_message  # noqa: E402

SHARED = next(
    (base / "shared" for base in (Path.cwd().parent, REPO.parent) if (base / "shared").is_dir()),
    REPO.parent / "shared",
)
CLIENTS = int(os.environ.get("BENCH_CLIENTS", "16"))
ROUNDS = 3
SECONDS_PER_ROUND = 3.0
NOOP_PATH = "/bench/noop"


def corpus() -> tuple[list[bytes], set[int], list[CommunicationParty]]:
    """Corpus documents the hardened parser reads, their sender organisations, and a register
    of those senders (documents whose sender contradicts an earlier one are left out)."""
    documents: list[bytes] = []
    senders: set[int] = set()
    parents: dict[int, tuple[PartyKind, int | None]] = {}
    catalogue = default_catalogue()
    for path in sorted((SHARED / "corpus").rglob("*.xml")):
        raw = path.read_bytes()
        try:
            root = parse_message(raw, ParseLimits())
        except MessageRejectedError:
            continue
        sender = read_envelope(root, catalogue).envelope.sender
        org = sender.organisation_her_id
        if org is None or sender.ambiguous:
            continue
        unit = sender.service_her_id if sender.service_her_id != org else None
        wanted = {org: (PartyKind.ORGANISATION, None)}
        if unit is not None:
            wanted[unit] = (PartyKind.DEPARTMENT, org)
        if sender.person_her_id is not None:
            wanted[sender.person_her_id] = (PartyKind.PERSON, unit or org)
        if any(parents.get(h, fact) != fact for h, fact in wanted.items()):
            continue
        parents.update(wanted)
        senders.add(org)
        documents.append(raw)
    parties = [
        CommunicationParty(
            her_id=her_id,
            kind=kind,
            name=f"Avsender {her_id}",
            parent_her_id=parent,
            hpr_number="1234567" if kind is PartyKind.PERSON else None,
        )
        for her_id, (kind, parent) in parents.items()
    ]
    return documents, senders, parties


def _serve(port: int, bootstrap: str, inbound_topic: str, principals: str, register: str) -> None:
    """Child process: the ingress API plus a no-op endpoint, on one uvicorn server."""
    import uvicorn
    from fastapi import FastAPI, Request
    from fastapi.responses import JSONResponse

    from access.principals_file import PrincipalsFile
    from broker_adapters.http.ingress_api import IngressApiDeps, ingress_router
    from broker_adapters.ingress import IngressGate, IngressSettings
    from meldingshub.logging import configure_logging

    configure_logging("bench", "console", "warning")

    kafka = KafkaSettings(
        bootstrap_servers=bootstrap,
        topics=TopicSettings(inbound=TopicSpec(name=inbound_topic, partitions=6)),
    )
    parties = read_register_file(Path(register)).parties
    gate = IngressGate.create(
        kafka, bootstrap, IngressSettings(), StaticRegister(RegisterIndex(parties))
    )
    app = FastAPI()
    app.include_router(ingress_router(IngressApiDeps(gate, PrincipalsFile(Path(principals)))))

    @app.post(NOOP_PATH, status_code=202)
    async def noop(request: Request) -> JSONResponse:
        await request.body()
        return JSONResponse({"id": str(uuid.uuid4())}, status_code=202)

    uvicorn.run(app, host="127.0.0.1", port=port, log_level="warning", access_log=False)


def rate(base: str, path: str, documents: list[bytes], token: str, seconds: float) -> float:
    """202 answers per second from CLIENTS keep-alive clients posting the corpus round-robin."""
    counts = [0] * CLIENTS
    failures: list[str] = []
    stop_at = time.perf_counter() + seconds
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/xml"}

    def client(slot: int) -> None:
        with httpx.Client(base_url=base, headers=headers, timeout=30) as http:
            position = slot
            while time.perf_counter() < stop_at:
                response = http.post(path, content=documents[position % len(documents)])
                if response.status_code != 202:
                    failures.append(f"{response.status_code} {response.text[:120]}")
                    return
                position += CLIENTS
                counts[slot] += 1

    start = time.perf_counter()
    threads = [threading.Thread(target=client, args=(n,)) for n in range(CLIENTS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    if failures:
        raise SystemExit(f"{path} answered other than 202: {failures[:3]}")
    return sum(counts) / (time.perf_counter() - start)


def wait_until_serving(base: str, server: multiprocessing.process.BaseProcess) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and server.is_alive():
        try:
            httpx.post(f"{base}{NOOP_PATH}", content=b"", timeout=1)
            return
        except httpx.TransportError:
            time.sleep(0.1)
    raise SystemExit("the ingress server did not start")


def main() -> int:
    """Print accepted msg/s, the no-op rate and their ratio."""
    documents, senders, parties = corpus()
    if not documents:
        print(f"skipped: no corpus at {SHARED / 'corpus'}")
        return 0
    size = sum(len(d) for d in documents) / len(documents)
    print(f"corpus: {len(documents)} documents, mean {size / 1024:.1f} KiB, {CLIENTS} clients")
    external = os.environ.get("KAFKA_BOOTSTRAP_SERVERS", "").strip()
    broker = None if external else EmbeddedBroker(port=free_port())
    if broker is not None:
        broker.start()
    bootstrap = external or (broker.bootstrap_servers if broker else "")
    inbound = f"bench.inbound.{uuid.uuid4().hex[:8]}"
    ensure_topics({"bootstrap.servers": bootstrap}, [TopicSpec(name=inbound, partitions=6)])
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    with tempfile.TemporaryDirectory() as scratch:
        principals = Path(scratch) / "principals.toml"
        token = add_credentials(principals, "bench", senders)
        register = Path(scratch) / "register.json"
        write_register_file(register, parties)
        server = multiprocessing.get_context("spawn").Process(
            target=_serve,
            args=(port, bootstrap, inbound, str(principals), str(register)),
            daemon=True,
        )
        server.start()
        try:
            wait_until_serving(base, server)
            best = {"ingress": 0.0, "noop": 0.0}
            for path in ("/v1/messages", NOOP_PATH):  # warm-up: connections, parser, producer
                rate(base, path, documents, token, 0.5)
            for _ in range(ROUNDS):  # interleaved rounds, best of each
                best["ingress"] = max(
                    best["ingress"], rate(base, "/v1/messages", documents, token, SECONDS_PER_ROUND)
                )
                best["noop"] = max(
                    best["noop"], rate(base, NOOP_PATH, documents, token, SECONDS_PER_ROUND)
                )
        finally:
            server.terminate()
            server.join(10)
            if broker is not None:
                broker.stop()
    print(f"  POST /v1/messages (durable, acks=all) {best['ingress']:>9,.0f} accepted msg/s")
    print(f"  POST {NOOP_PATH} (reads the body)     {best['noop']:>9,.0f} msg/s")
    print(f"  ratio {best['ingress'] / best['noop']:.2f} of the same server's no-op rate")
    return 0


if __name__ == "__main__":
    sys.exit(main())
