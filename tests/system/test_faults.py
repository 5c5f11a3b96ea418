"""System tests: faults. Each ends by checking that no event was lost and none applied twice,
comparing what the client got acknowledged with what the services report.

a. each service SIGKILLed in the middle of a stream of commands, then restarted;
b. the embedded broker stopped and restarted EMPTY on the same port;
c. an undecodable record on pathways.referral.events.v1 goes to pathways.deadletter.v1.
(The data-directory-unwritable fault is not tested: the tests run as root, who can write
anywhere.)
"""

import os
import sys
import time
import unittest
import uuid

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import system_harness as h  # noqa: E402
import checks  # noqa: E402


class FaultTest(unittest.TestCase):
    def setUp(self):
        self.system = h.System(pathway_flags=["--timer-interval-seconds=1"],
                               notify_flags=["--dispatch-interval-ms=200"])
        self.addCleanup(self.system.stop_all)
        self.system.start()

    def test_a_each_service_sigkilled_mid_stream_loses_and_duplicates_nothing(self):
        s, unit = self.system, "sys-kill-tsb"
        with checks.Workload(s, unit, "kill", h.FnrGenerator(seed_day=2000)) as load:
            load.wait_for_more(5)
            for name in ("referral", "pathway", "notify"):
                s.kill(name)
                time.sleep(0.5)  # commands keep coming (and being retried) meanwhile
                s.restart(name)
                load.wait_for_more(5, timeout=90)
                self.assertFalse(load.errors, load.errors)
        self.assertFalse(load.errors, load.errors)
        self.assertGreaterEqual(len(load.acked), 15)
        checks.assert_referrals_consistent(self, s, load.acked)
        checks.assert_one_pathway_each(self, s, load.acked)
        checks.assert_no_duplicate_notifications(self, s, unit)

    def test_b_broker_restarted_empty_loses_and_duplicates_nothing(self):
        s, unit = self.system, "sys-broker-tsb"
        fnrs = h.FnrGenerator(seed_day=3000)
        before = [(checks.submit_and_assess(s, f"before-{i}", n, unit), n)
                  for i, n in ((i, fnrs.next()) for i in range(5))]
        checks.assert_one_pathway_each(self, s, before, timeout=60)
        s.kill("broker")
        # While Kafka is down, commands are still accepted at once: the outbox holds the events.
        during = []
        for i in range(5):
            n = fnrs.next()
            during.append((checks.submit_and_assess(s, f"during-{i}", n, unit, retry=False), n))
        time.sleep(2)
        s.restart("broker")  # empty: the mock cluster keeps nothing
        after = [(checks.submit_and_assess(s, f"after-{i}", n, unit), n)
                 for i, n in ((i, fnrs.next()) for i in range(3))]
        everything = before + during + after
        checks.assert_referrals_consistent(self, s, everything)
        checks.assert_one_pathway_each(self, s, everything, timeout=120)
        checks.assert_no_duplicate_notifications(self, s, unit)

    def test_c_undecodable_referral_record_goes_to_dead_letter(self):
        from confluent_kafka import Consumer, Producer
        s, unit = self.system, "sys-dlq-tsb"
        fnrs = h.FnrGenerator(seed_day=4000)
        n0 = fnrs.next()
        checks.assert_one_pathway_each(
            self, s, [(checks.submit_and_assess(s, "dlq-first", n0, unit), n0)], timeout=60)
        producer = Producer({"bootstrap.servers": s.bootstrap})
        producer.produce(h.REFERRAL_TOPIC, key=b"junk", value=b"\xff\xfenot a protobuf\x00\x01")
        self.assertEqual(producer.flush(10), 0, "junk record not delivered")

        consumer = Consumer({"bootstrap.servers": s.bootstrap, "group.id": f"dlq-{uuid.uuid4()}",
                             "auto.offset.reset": "earliest", "enable.auto.commit": False})
        consumer.subscribe([h.DEADLETTER_TOPIC])
        dead = []
        try:
            deadline = time.time() + 60
            while time.time() < deadline and not dead:
                msg = consumer.poll(0.5)
                if msg is None or msg.error():
                    continue
                if msg.key() == b"junk":
                    dead.append(msg)
        finally:
            consumer.close()
        self.assertTrue(dead, "the junk record did not reach pathways.deadletter.v1")
        headers = {k: (v.decode() if v else "") for k, v in (dead[0].headers() or [])}
        self.assertTrue(headers.get("dlq_reason"), f"no dlq_reason header: {headers}")
        self.assertEqual(headers.get("dlq_topic"), h.REFERRAL_TOPIC)
        self.assertIn("dlq_offset", headers)
        self.assertEqual(dead[0].value(), b"\xff\xfenot a protobuf\x00\x01")

        # Later referrals still start pathways.
        later = []
        for i in range(3):
            n = fnrs.next()
            later.append((checks.submit_and_assess(s, f"dlq-later-{i}", n, unit), n))
        checks.assert_one_pathway_each(self, s, later, timeout=60)


if __name__ == "__main__":
    unittest.main(verbosity=2)
