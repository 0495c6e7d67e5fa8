"""Peak memory growth and time per message for the worst inputs the limits allow.

Each case runs in a fresh interpreter per stage, so its peak RSS is its own:

* ``ingress``: the gate's screen (hardened parse, envelope, sender check) plus the one
  record it writes;
* ``router``: the reader (parse, envelope, caps, validation) plus what each receiver's
  record carries of the document, which is what the router hands its producer in one
  transaction (a claim check for several receivers or a large document: it is carried once).

Cases: a typical corpus dialogmelding (the baseline of this run), the largest
document of empty elements, the largest document at the element/attribute budget,
the largest document with the most copy receivers the fan-out cap allows, and the
largest document with as many receivers as the cap allows. Targets: under 500 MB
and 10 s each. Printed, never asserted: this is a benchmark, not a timed test.

Run: ``.venv/bin/python bench/worst_inputs.py`` (``make bench`` runs it).
"""

import json
import subprocess
import sys
import textwrap
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
SHARED = next(
    (base / "shared" for base in (Path.cwd().parent, REPO.parent) if (base / "shared").is_dir()),
    REPO.parent / "shared",
)
DIALOG = SHARED / "corpus" / "dialog" / "Helsefaglig_dialog.xml"
TARGET_MB = 500
TARGET_S = 10.0

BUILD = """
from schemas.settings import SchemaSettings
from schemas.xmlparse import ParseLimits
settings = SchemaSettings()
template = open({dialog!r}, "rb").read()

def with_copies(raw, copies, size):
    start, end = raw.index(b"<Receiver>"), raw.index(b"</Receiver>") + len(b"</Receiver>")
    receiver = raw[start:end]
    other = receiver.replace(b"<Receiver>", b"<OtherReceiver>").replace(
        b"</Receiver>", b"</OtherReceiver>")
    raw = raw[:end] + other * copies + raw[end:]
    filler = max(size - len(raw) - 16, 0)
    return raw.replace(b"</MsgHead>", b"<!--" + b"x" * filler + b"--></MsgHead>")

case = {case!r}
top = settings.max_message_bytes
if case == "baseline":
    raw, receivers = template, 1
elif case == "empty-elements":
    raw = b"<MsgHead>" + b"<a/>" * ((top - 32) // 4) + b"</MsgHead>"
    receivers = 1
elif case == "node-budget":
    per = ParseLimits().bytes_per_node
    count = (ParseLimits().max_nodes(top) - 100)
    body = b"<a>" + b"x" * (per - 7) + b"</a>"
    raw = b"<MsgHead>" + body * min(count, (top - 32) // len(body)) + b"</MsgHead>"
    receivers = 1
elif case == "most-copies":
    copies = settings.max_copy_receivers
    raw = with_copies(template, copies, settings.max_fanout_bytes // (copies + 1))
    receivers = 1 + copies
elif case == "largest-most-receivers":
    receivers = settings.max_fanout_bytes // top
    raw = with_copies(template, receivers - 1, top)
"""

STAGES = {
    "ingress": """
from datetime import UTC, datetime
from broker_adapters.ingress import IngressGate, IngressSettings, Submission
from access.principals import Principal
class _NoProducer:
    def close(self, timeout_s=0):
        return None
from addressregister.index import RegisterIndex
from addressregister.live import StaticRegister
from addressregister.model import CommunicationParty, PartyKind
from schemas.catalogue import default_catalogue
from schemas.envelope import read_envelope
from schemas.xmlparse import parse_message
root = parse_message(template, settings.parse_limits())
sender = read_envelope(root, default_catalogue()).envelope.sender
org = sender.organisation_her_id
parties = [CommunicationParty(her_id=org, kind=PartyKind.ORGANISATION, name="bench")]
if sender.service_her_id not in (None, org):
    parties.append(CommunicationParty(
        her_id=sender.service_her_id, kind=PartyKind.DEPARTMENT, name="bench", parent_her_id=org))
if sender.person_her_id is not None:
    parties.append(CommunicationParty(
        her_id=sender.person_her_id, kind=PartyKind.PERSON, name="bench",
        parent_her_id=sender.service_her_id or org))
gate = IngressGate(lambda _e: _NoProducer(), "hub.inbound", IngressSettings(),
                   StaticRegister(RegisterIndex(parties)), limits=settings.parse_limits())
principal = Principal("bench", frozenset([org]))
def work(raw):
    submission = Submission(raw, principal, "http", datetime.now(UTC))
    refused = gate.screen(submission)
    if refused is not None:
        return "refused " + refused.reason.value
    _inbound, record = gate.record_for(submission)
    kept = bytearray(record.value)  # librdkafka copies the value into its queue
    return "written" if kept else "empty"
""",
    "router": """
from routing.outputs import carried_payload
from schemas.reader import MessageReader
from schemas.records import PayloadRef
reader = MessageReader(settings)
def work(raw):
    result = reader.read(raw)
    if result.problem is not None and result.problem.code.value == "T99":
        return "rejected T99"
    carried, _claim = carried_payload(raw, receivers, PayloadRef("hub.inbound", 0, 0))
    queued = [bytearray(carried) for _ in range(receivers)]  # one record per receiver
    verdict = "routed" if result.accepted else "rejected " + result.problem.code.value
    return f"{{verdict}} ({{len(queued)}} records)"
""",
}

MEASURE = """
import json, resource, time
work(b"<warm-up/>")
before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
start = time.perf_counter()
outcome = work(raw)
seconds = time.perf_counter() - start
after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
print(json.dumps({{"outcome": outcome, "mb": (after - before) / 1024, "s": seconds,
                  "size": len(raw)}}))
"""

CASES = ("baseline", "empty-elements", "node-budget", "most-copies", "largest-most-receivers")


def measure(case: str, stage: str) -> dict[str, object]:
    """Run one case through one stage in a fresh interpreter; its figures."""
    program = "\n".join(
        textwrap.dedent(part).format(dialog=str(DIALOG), case=case)
        for part in (BUILD, STAGES[stage], MEASURE)
    )
    completed = subprocess.run(
        [sys.executable, "-c", program],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=300,
        check=True,
    )
    figures: dict[str, object] = json.loads(completed.stdout.strip().splitlines()[-1])
    return figures


def main() -> None:
    """Print every case beside the baseline of this run."""
    print(f"{'case':<24}{'stage':<9}{'MB in':>8}{'peak +MB':>10}{'x base':>8}{'s':>7}  outcome")
    baseline: dict[str, float] = {}
    worst_mb, worst_s = 0.0, 0.0
    for case in CASES:
        for stage in STAGES:
            got = measure(case, stage)
            mb, seconds = float(str(got["mb"])), float(str(got["s"]))
            if case == "baseline":
                baseline[stage] = max(mb, 0.1)
            else:
                worst_mb, worst_s = max(worst_mb, mb), max(worst_s, seconds)
            size_mb = int(str(got["size"])) / 1024 / 1024
            print(
                f"{case:<24}{stage:<9}{size_mb:>8.1f}{mb:>10.1f}{mb / baseline[stage]:>8.0f}"
                f"{seconds:>7.2f}  {got['outcome']}"
            )
    verdict = "within" if worst_mb < TARGET_MB and worst_s < TARGET_S else "OVER"
    print(
        f"worst: {worst_mb:.0f} MB, {worst_s:.1f} s; {verdict} the targets "
        f"({TARGET_MB} MB, {TARGET_S:.0f} s)"
    )


if __name__ == "__main__":
    main()
