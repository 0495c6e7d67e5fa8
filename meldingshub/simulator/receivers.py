"""The demo's receivers: they take what the hub delivers to them, as receivers on a network do.

Without them every delivery of ``make run`` would wait for a reader that never comes:
documents pile up in receiver topics, mailboxes and outbox directories, and the
embedded broker would have to keep all of it. The synthetic register of the embedded
default places every receiver on this machine
(:func:`addressregister.generator.on_this_machine`), so three kinds cover them all:

* Kafka: one consumer group reads every receiver topic (``receiver.<HER-id>`` and
  ``<prefix>.<HER-id>``, never a hub topic) and commits, so a broker checkpoint keeps
  none of what was read;
* the hub's mailbox: messages unread for :data:`MAILBOX_GRACE` are marked read (a
  receiver's own client, as in the README's how-to, gets that long to read them first);
* file outboxes: each delivered file is picked up, i.e. removed (regular files only,
  never through a symbolic link).

They act on every receiver of the store and the outbox root, so the demo runs them only
when both are its own defaults under the data directory (:func:`owns_its_data`). A
failure is logged and the receivers try again at the next round; they never stop the
hub. They read nothing of a document: no patient data passes through here.
"""

import os
import re
import stat
import threading
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path

import structlog
from confluent_kafka import Consumer, KafkaException

from broker_adapters.delivery.errors import MailboxError
from broker_adapters.delivery.mailbox_store import MailboxStore
from kafka_io.config import consumer_config
from meldingshub.settings import Settings

log = structlog.get_logger(__name__)

GROUP_ID = "hub.demo.receivers"
ROUND_S = 1.0
"""Pause between two rounds of taking."""
MAILBOX_BATCH = 500
MAILBOX_GRACE = timedelta(seconds=60)


def owns_its_data(settings: Settings) -> bool:
    """The store and the outbox root are the demo's own (the defaults under its data
    directory), so its receivers may empty them."""
    return (
        settings.store.dsn == settings.default_store_dsn and settings.delivery.outbox_root is None
    )


class SimulatedReceivers:
    """Hub component of the demo: empties every receiver's topic, mailbox and outbox."""

    name = "receivers"

    def __init__(self, settings: Settings, bootstrap_servers: str, mailbox: MailboxStore) -> None:
        self._settings = settings
        self._bootstrap = bootstrap_servers
        self._mailbox = mailbox
        self._outbox = settings.delivery.outbox(settings.data_dir)
        self.taken: Counter[str] = Counter()
        """Messages taken so far, by endpoint kind."""

    def ready(self) -> bool:
        """Never holds up the hub's readiness."""
        return True

    def topics(self) -> list[str]:
        """The subscription (regexes): receiver topics, named by a HER-id, and no other."""
        prefix = re.escape(self._settings.delivery.kafka_topic_prefix)
        return [r"^receiver\.[0-9]+$", f"^{prefix}\\.[0-9]+$"]

    def run(self, stop: threading.Event) -> None:
        """Take deliveries until ``stop`` is set."""
        config = consumer_config(self._settings.kafka, self._bootstrap, GROUP_ID)
        config.update(
            {
                # Commit what was handed to the application, every few seconds and at close.
                "enable.auto.commit": True,
                "enable.auto.offset.store": True,
                # Hundreds of receiver topics: a fetch names each partition, so fetch seldom
                # (the broker holds it until there is data). The hub creates a receiver's
                # topic at its first delivery: the subscription finds it at the next refresh.
                "fetch.wait.max.ms": 1000,
                "topic.metadata.refresh.interval.ms": 10_000,
            }
        )
        consumer = Consumer(config)
        log.info("simulated receivers started")
        try:
            consumer.subscribe(self.topics())
            while not stop.is_set():
                self._kafka(consumer)
                self._mailbox_round()
                self._files()
                stop.wait(ROUND_S)
        finally:
            consumer.close()  # commits what was read
            log.info("simulated receivers stopped", taken=dict(self.taken))

    def _kafka(self, consumer: Consumer) -> None:
        try:
            messages = consumer.consume(1000, timeout=0.1)
        except KafkaException as exc:
            log.warning("simulated receivers could not read their topics", error=str(exc))
            return
        self.taken["kafka"] += sum(1 for m in messages if m.error() is None)

    def _mailbox_round(self) -> None:
        try:
            due = datetime.now(UTC) - MAILBOX_GRACE
            for message_id in self._mailbox.oldest_unread(MAILBOX_BATCH, due):
                self._mailbox.mark_read(message_id)
                self.taken["mailbox"] += 1
        except MailboxError as exc:
            log.warning("simulated receivers could not read the mailbox", error=str(exc))

    def _files(self) -> None:
        try:
            self.taken["file"] += _pick_up(self._outbox)
        except OSError as exc:
            log.warning("simulated receivers could not read the outbox", error=type(exc).__name__)


def _pick_up(root: Path) -> int:
    """Remove the delivered files under ``root`` (not its subdirectories' links, not files
    still being written, which start with a dot); return how many."""
    taken = 0
    for directory, _subdirectories, names in os.walk(root):  # never follows a linked directory
        for name in names:
            if name.startswith(".") or not name.endswith(".xml"):
                continue
            path = Path(directory) / name
            try:
                if stat.S_ISREG(path.lstat().st_mode):
                    path.unlink()
                    taken += 1
            except FileNotFoundError:
                continue  # taken meanwhile
    return taken
