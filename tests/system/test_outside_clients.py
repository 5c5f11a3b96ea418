"""System test: outside clients read the referral events from Kafka.

kcat shows the CloudEvents headers of every record on pathways.referral.events.v1; a
python3-confluent-kafka consumer reads the events as a reporting team would, parsing values
with the generated referral.v1 events_pb2: keys are 32-hex pseudonymous patient keys, never the
national id.
"""

import os
import re
import subprocess
import sys
import time
import unittest
import uuid

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import system_harness as h  # noqa: E402
import checks  # noqa: E402

from referral.v1 import events_pb2  # noqa: E402

CE_HEADERS = ("ce_specversion", "ce_id", "ce_source", "ce_type", "ce_time", "ce_subject",
              "content-type")


class OutsideClientsTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.system = h.System()
        try:
            cls.system.start(("broker", "referral"))
            fnrs = h.FnrGenerator(seed_day=5000)
            cls.national_ids = [fnrs.next() for _ in range(3)]
            cls.referral_ids = [checks.submit_and_assess(cls.system, f"outside-{i}", n,
                                                         "sys-outside-tsb")
                                for i, n in enumerate(cls.national_ids)]
        except Exception:
            cls.system.stop_all()
            raise

    @classmethod
    def tearDownClass(cls):
        cls.system.stop_all()

    def test_kcat_shows_cloudevents_headers(self):
        def read():
            out = subprocess.run(
                ["kcat", "-b", self.system.bootstrap, "-C", "-t", h.REFERRAL_TOPIC, "-e",
                 "-f", "%h\n"], capture_output=True, text=True, timeout=30)
            lines = [line for line in out.stdout.splitlines() if line.strip()]
            return lines if len(lines) >= 2 * len(self.referral_ids) else None
        lines = h.wait_until(read, 30, interval=1, what="6 records via kcat")
        for line in lines:
            names = {pair.split("=", 1)[0] for pair in line.split(",")}
            for header in CE_HEADERS:
                self.assertIn(header, names, f"{header} missing in {line}")
            headers = dict(pair.split("=", 1) for pair in line.split(","))
            self.assertEqual(headers["ce_specversion"], "1.0")
            for n in self.national_ids:
                self.assertNotIn(n, line)

    def test_reporting_consumer_reads_pseudonymous_events(self):
        from confluent_kafka import Consumer
        consumer = Consumer({"bootstrap.servers": self.system.bootstrap,
                             "group.id": f"reporting-{uuid.uuid4()}",
                             "auto.offset.reset": "earliest"})
        consumer.subscribe([h.REFERRAL_TOPIC])
        events = []
        try:
            deadline = time.time() + 60
            while time.time() < deadline and len(events) < 2 * len(self.referral_ids):
                msg = consumer.poll(0.5)
                if msg is None or msg.error():
                    continue
                events.append((msg.key(), msg.value(), dict(msg.headers() or [])))
        finally:
            consumer.close()
        self.assertEqual(len(events), 2 * len(self.referral_ids))
        seen = {}
        for key, value, headers in events:
            text_key = key.decode()
            self.assertRegex(text_key, r"^[0-9a-f]{32}$")
            self.assertNotIn(text_key, self.national_ids)
            event = events_pb2.ReferralEvent()
            event.ParseFromString(value)
            self.assertEqual(event.metadata.patient_key, text_key)
            self.assertEqual(headers.get("ce_id", b"").decode(), event.metadata.event_id)
            seen.setdefault(event.metadata.stream_id, []).append(
                (event.metadata.stream_version, event.WhichOneof("payload")))
        self.assertEqual(set(seen), set(self.referral_ids))
        for stream in seen.values():
            self.assertEqual(sorted(stream), [(1, "submitted"), (2, "assessed")])


if __name__ == "__main__":
    unittest.main(verbosity=2)
