"""The demo's receivers: they take what the hub delivers to them, as receivers on a network do.

Without them every delivery of ``make run`` would wait for a reader that never comes:
documents pile up in receiver topics, mailboxes and outbox directories, and the
embedded broker would have to keep all of it. The synthetic register of the embedded
default places every receiver on this machine
(:func:`addressregister.generator.on_this_machine`), so three kinds cover them all:

* Kafka: one consumer group reads every receiver topic and commits, so a broker
  checkpoint keeps none of what was read;
* the hub's mailbox: unread messages are marked read (the mailbox deletes read
  messages after ``delivery.mailbox_retention_days``);
* file outboxes: each delivered file is picked up, i.e. removed.

A failure is logged and the receivers try again at the next round; they never stop
the hub. They read nothing of a document: no patient data passes through here.
"""

import re
import threading
from collections import Counter

import structlog
from confluent_kafka import Consumer, KafkaException

from broker_adapters.delivery.errors import MailboxError
from broker_adapters.delivery.mailbox_store import MailboxStore
from kafka_io.config import consumer_config
from meldingshub.settings import Settings

log = structlog.get_logger(__name__)

GROUP_ID = "hub.demo.receivers"
ROUND_S = 1.0
"""Pause between rounds when a round found nothing to take."""
MAILBOX_BATCH = 500


class SimulatedReceivers:
    """Hub component of the demo: empties every receiver's topic, mailbox and outbox."""

    name = "receivers"

    def __init__(self, settings: Settings, bootstrap_servers: str, mailbox: MailboxStore) -> None:
        self._settings = settings
        self._bootstrap = bootstrap_servers
        self._mailbox = mailbox
        self.taken: Counter[str] = Counter()
        """Messages taken so far, by endpoint kind."""

    def ready(self) -> bool:
        """Never holds up the hub's readiness."""
        return True

    def topics(self) -> list[str]:
        """The subscription: every topic a Kafka endpoint of the hub may write (as regexes)."""
        prefix = re.escape(self._settings.delivery.kafka_topic_prefix)
        return [r"^receiver\..+", f"^{prefix}\\..+"]

    def run(self, stop: threading.Event) -> None:
        """Take deliveries until ``stop`` is set."""
        config = consumer_config(self._settings.kafka, self._bootstrap, GROUP_ID)
        config.update(
            {
                "enable.auto.commit": True,
                # Hundreds of receiver topics: a fetch names each partition, so fetch seldom
                # (the broker holds it until there is data). The hub creates a receiver's
                # topic at its first delivery: the subscription finds it at the next refresh.
                "fetch.wait.max.ms": 1000,
                "topic.metadata.refresh.interval.ms": 10_000,
            }
        )
        consumer = Consumer(config)
        consumer.subscribe(self.topics())
        log.info("simulated receivers started")
        try:
            while not stop.is_set():
                took = self._kafka(consumer) + self._mailbox_round() + self._files()
                if not took:
                    stop.wait(ROUND_S)
        finally:
            consumer.close()  # commits what was read
            log.info("simulated receivers stopped", taken=dict(self.taken))

    def _kafka(self, consumer: Consumer) -> int:
        try:
            messages = consumer.consume(1000, timeout=0.1)
        except KafkaException as exc:
            log.warning("simulated receivers could not read their topics", error=str(exc))
            return 0
        taken = sum(1 for m in messages if m.error() is None)
        self.taken["kafka"] += taken
        return taken

    def _mailbox_round(self) -> int:
        try:
            unread = self._mailbox.oldest_unread(MAILBOX_BATCH)
            for message_id in unread:
                self._mailbox.mark_read(message_id)
        except MailboxError as exc:
            log.warning("simulated receivers could not read the mailbox", error=str(exc))
            return 0
        self.taken["mailbox"] += len(unread)
        return len(unread)

    def _files(self) -> int:
        taken = 0
        root = self._settings.delivery.outbox(self._settings.data_dir)
        for path in root.glob("**/*.xml") if root.is_dir() else ():
            if path.name.startswith("."):
                continue  # a file still being written
            try:
                path.unlink()
            except OSError:
                continue  # taken already, or not ours to take
            taken += 1
        self.taken["file"] += taken
        return taken
