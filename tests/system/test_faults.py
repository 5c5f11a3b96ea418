"""System tests: faults. Each ends by checking that no event was lost and none applied twice,
comparing what the client got acknowledged with what the services report.

a. each service SIGKILLed in the middle of a stream of commands, then restarted;
b. the embedded broker stopped and restarted EMPTY on the same port;
b2. the broker unreachable for a while (SIGUSR1 takes its brokers down, data kept; SIGUSR2 back):
   commands are accepted meanwhile and their events delivered afterwards;
c. an undecodable record on pathways.referral.events.v1 goes to pathways.deadletter.v1;
d. the referral service's data directory full (a small tmpfs filled up: root can write to any
   directory whatever its mode, but not to a full disk): commands get UNAVAILABLE, reads keep
   working, nothing is half-written, and the service recovers by itself once there is room.
"""

import datetime
import errno
import signal
import subprocess

import os
import sys
import time
import unittest
import uuid

import grpc

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import system_harness as h  # noqa: E402
import checks  # noqa: E402
from referral.v1 import service_pb2 as referral_pb2  # noqa: E402


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

    def test_b2_broker_unreachable_for_a_while_commands_accepted_then_delivered(self):
        s, unit = self.system, "sys-partition-tsb"
        fnrs = h.FnrGenerator(seed_day=3500)
        before = [(checks.submit_and_assess(s, f"p-before-{i}", n, unit), n)
                  for i, n in ((i, fnrs.next()) for i in range(3))]
        checks.assert_one_pathway_each(self, s, before, timeout=60)
        broker = s.procs["broker"]
        broker.popen.send_signal(signal.SIGUSR1)
        h.wait_until(lambda: any("brokers down" in line for line in broker.lines), 10,
                     what="the broker to report its brokers down")
        # Kafka unreachable: commands are still accepted at once (no retry needed), and no
        # pathway can start, since the pathway service cannot read the referral events.
        during = []
        for i in range(5):
            n = fnrs.next()
            during.append((checks.submit_and_assess(s, f"p-during-{i}", n, unit, retry=False), n))
        time.sleep(3)
        for rid, n in during:
            self.assertEqual(len(checks.pathways_of(s, n)), 0, "a pathway started without Kafka")
        broker.popen.send_signal(signal.SIGUSR2)
        everything = before + during
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


class DiskFullTest(unittest.TestCase):
    def setUp(self):
        # A 1 MiB memtable keeps RocksDB's write-ahead-log preallocation small enough for the
        # small disk, so that it fills up after a few hundred commands.
        self.system = h.System(pathway_flags=["--timer-interval-seconds=1"],
                               notify_flags=["--dispatch-interval-ms=200"],
                               referral_flags=["--write-buffer-mb=1"])
        self.disk = os.path.join(self.system.data, "referral")
        os.makedirs(self.disk)
        mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=48m", "tmpfs", self.disk],
                                 capture_output=True, text=True)
        self.assertEqual(mounted.returncode, 0, f"cannot mount a tmpfs (needs root): "
                                                f"{mounted.stderr}")
        # Cleanups run last-added first: kill the services, unmount, then remove the data.
        self.addCleanup(self.system.stop_all)
        self.addCleanup(subprocess.run, ["umount", "-l", self.disk], capture_output=True)
        self.addCleanup(lambda: [p.kill() for p in self.system.procs.values()])
        self.system.start()
        self.filler = os.path.join(self.disk, "filler")

    def fill_disk(self):
        block = b"f" * 65536
        with open(self.filler, "ab", buffering=0) as f:
            size = len(block)
            while size > 0:
                try:
                    f.write(block[:size])
                except OSError as error:
                    if error.errno != errno.ENOSPC:
                        raise
                    size //= 2

    def test_d_full_data_directory_answers_unavailable_then_recovers(self):
        s, unit = self.system, "sys-full-tsb"
        stub = s.referral_stub()
        fnrs = h.FnrGenerator(seed_day=5000)
        with checks.Workload(s, unit, "full", fnrs) as load:
            load.wait_for_more(3)
            self.fill_disk()
            # Commands fail as UNAVAILABLE (retry later) while the disk is full. A few may still
            # fit in the space RocksDB preallocated; keep submitting until one is refused.
            probes, refused, i = [], None, 0
            deadline = time.time() + 60
            while refused is None and time.time() < deadline:
                tag, n = f"probe-{i}", fnrs.next()
                now = datetime.datetime.now(datetime.timezone.utc)
                try:
                    probes.append((checks.submit_and_assess(s, tag, n, unit, retry=False, now=now),
                                   n))
                except grpc.RpcError as error:
                    refused, refused_probe = error, (tag, n, now)
                i += 1
            self.assertIsNotNone(refused, "no command was refused on a full disk")
            self.assertEqual(refused.code(), grpc.StatusCode.UNAVAILABLE, refused.details())
            print(f"refused on a full disk: {refused.details()}", file=sys.stderr)
            self.assertTrue(s.procs["referral"].alive(), "the referral service died")
            # Reads still work.
            rid = load.acked[0][0]
            got = stub.GetReferral(referral_pb2.GetReferralRequest(referral_id=rid),
                                   metadata=h.ACTOR, timeout=10)
            self.assertEqual(got.referral_id, rid)
            # Room again: the workload (retrying with the same keys) goes on, no restart.
            os.remove(self.filler)
            load.wait_for_more(5, timeout=90)
            # The refused command, sent again with its key, is applied once: nothing of the
            # refused attempt was stored.
            tag, n, now = refused_probe
            probes.append((checks.submit_and_assess(s, tag, n, unit, now=now), n))
        self.assertFalse(load.errors, load.errors)
        everything = load.acked + probes
        checks.assert_referrals_consistent(self, s, everything)
        checks.assert_one_pathway_each(self, s, everything)
        checks.assert_no_duplicate_notifications(self, s, unit)


if __name__ == "__main__":
    unittest.main(verbosity=2)
