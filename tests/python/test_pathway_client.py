"""An outside client (Debian python3-grpcio) against the real pathway-server process.

Starts the embedded broker and the pathway service as child processes on free ports (the
service loads the shipped catalogue from the source tree), records a pathway's measurement
points as a hospital's patient administration system would, reads the worklists by unit and by
coordinator, then stops both with SIGTERM and checks they exit cleanly and logged JSON lines
without the national id. Run with /usr/bin/python3 (Debian's interpreter has the grpc module).

The service's clock is the real one, so every date here is relative to today in Oslo.
"""

import datetime
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import unittest
from zoneinfo import ZoneInfo

import grpc

from catalogue.v1 import catalogue_pb2
from eventing.v1 import types_pb2
from grpc_ext import health_pb2, health_pb2_grpc
from pathway.v1 import service_pb2, service_pb2_grpc, state_pb2
from referral.v1 import events_pb2

BIN = os.environ.get("PATHWAYS_BIN_DIR", "build/bin")
SOURCE = os.environ.get("PATHWAYS_SOURCE_DIR", ".")
FNR = "24120012343"  # valid check digits (see clinical_identity_test)
FNR2 = "01019012480"
UNIT = "py-tsb"
COORDINATOR = "py-coordinator"


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for_line(process, needle, timeout, seen):
    """Reads the process's output until a line contains `needle`; keeps every line in `seen`."""
    deadline = time.time() + timeout
    while time.time() < deadline:
        line = process.stdout.readline() if process.stdout else ""
        if line:
            seen.append(line)
        if needle in line:
            return line
        if process.poll() is not None:
            raise RuntimeError(f"process exited early with {process.returncode}: {seen[-5:]}")
    raise TimeoutError(f"no line containing {needle!r}")


def date(day):
    return types_pb2.Date(year=day.year, month=day.month, day=day.day)


def as_day(d):
    return datetime.date(d.year, d.month, d.day)


class PathwayClientTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.TemporaryDirectory()
        cls.broker_lines, cls.server_lines = [], []
        broker_port = free_port()
        cls.broker = subprocess.Popen(
            [f"{BIN}/pathways-broker", f"--listen=127.0.0.1:{broker_port}"],
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        wait_for_line(cls.broker, '"ready"', 30, cls.broker_lines)
        cls.grpc_port = free_port()
        cls.server = subprocess.Popen(
            [f"{BIN}/pathway-server", f"--grpc-listen=127.0.0.1:{cls.grpc_port}",
             f"--data-dir={cls.tmp.name}/pathway",
             f"--kafka-bootstrap=127.0.0.1:{broker_port}",
             f"--catalogue-dirs={SOURCE}/catalogue"],
            env=dict(os.environ, PATHWAYS_PSEUDONYM_SECRET="python-test-secret-123"),
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        # SERVING once the referral policy's consumer has caught up (a group join).
        wait_for_line(cls.server, '"serving"', 60, cls.server_lines)
        # Keep draining both outputs so a full pipe never blocks a process.
        cls.drains = [
            threading.Thread(target=lambda p=p, out=out: out.extend(p.stdout), daemon=True)
            for p, out in ((cls.server, cls.server_lines), (cls.broker, cls.broker_lines))]
        for drain in cls.drains:
            drain.start()
        cls.channel = grpc.insecure_channel(f"127.0.0.1:{cls.grpc_port}")
        grpc.channel_ready_future(cls.channel).result(timeout=10)
        cls.stub = service_pb2_grpc.PathwayServiceStub(cls.channel)
        cls.today = datetime.datetime.now(ZoneInfo("Europe/Oslo")).date()

    @classmethod
    def tearDownClass(cls):
        cls.channel.close()
        for process in (cls.server, cls.broker):
            process.send_signal(signal.SIGTERM)
        server_rc = cls.server.wait(timeout=30)
        broker_rc = cls.broker.wait(timeout=30)
        for drain in cls.drains:
            drain.join(timeout=10)
        cls.tmp.cleanup()
        assert server_rc == 0, f"pathway-server exited with {server_rc}"
        assert broker_rc == 0, f"pathways-broker exited with {broker_rc}"
        # The service logs JSON lines and never the national id. librdkafka may still print
        # lines of its own that are not JSON: tolerated for now (they do not start with '{').
        json_lines = 0
        for line in cls.server_lines + cls.broker_lines:
            assert FNR not in line and FNR2 not in line, "a log line carries the national id"
            if line.strip().startswith("{"):
                json.loads(line)
                json_lines += 1
        assert json_lines > 0, "no JSON log lines"
        assert any('"stopped"' in line for line in cls.server_lines), "no clean stop logged"

    def call(self, method, request):
        return method(request, metadata=(("x-actor-id", "python-client"),), timeout=20)

    def record(self, pathway_id, key, point, day, outcome=""):
        return self.call(self.stub.RecordPoint, service_pb2.RecordPointRequest(
            idempotency_key=key, pathway_id=pathway_id, point_id=point, outcome=outcome,
            date=date(day)))

    def test_given_pathway_when_points_recorded_then_timeline_and_worklists(self):
        day = datetime.timedelta(days=1)
        start, attended = self.today - 30 * day, self.today - 21 * day
        decided, evaluated = self.today - 14 * day, self.today - 10 * day
        started = self.call(self.stub.StartPathway, service_pb2.StartPathwayRequest(
            idempotency_key="py-start-1", pathway_type="NO_TSB", unit=UNIT,
            patient=events_pb2.PatientIdentifier(
                system=events_pb2.PatientIdentifier.NO_FODSELSNUMMER, value=FNR),
            setting=catalogue_pb2.OUTPATIENT, start_date=date(start),
            coordinator_id=COORDINATOR))
        self.assertEqual(started.version, 1)
        pathway_id = started.pathway_id
        self.assertEqual(self.record(pathway_id, "py-ff-1", "forste_fremmote", attended).version, 2)
        self.assertEqual(self.record(pathway_id, "py-kb-1", "klinisk_beslutning", decided,
                                     outcome="CT").version, 3)
        self.assertEqual(self.record(pathway_id, "py-ev-1", "evaluering", evaluated).version, 4)
        # A retry is answered, not applied again.
        retried = self.record(pathway_id, "py-ev-1", "evaluering", evaluated)
        self.assertTrue(retried.replayed)
        self.assertEqual(retried.version, 4)

        pathway = self.call(self.stub.GetPathway,
                            service_pb2.GetPathwayRequest(pathway_id=pathway_id))
        self.assertEqual(pathway.status, state_pb2.ACTIVE)
        self.assertEqual(pathway.version, 4)
        self.assertEqual(
            [(e.point_id, e.register_code, as_day(e.date)) for e in pathway.timeline],
            [("start", "D01", start), ("forste_fremmote", "D01", attended),
             ("klinisk_beslutning", "D01CT", decided), ("evaluering", "D01", evaluated)])
        statuses = {d.rule_id: d.status for d in pathway.deadlines}
        self.assertEqual(statuses, {
            "tsb.attendance-decision.outpatient": state_pb2.MET_ON_TIME,
            "tsb.decision-first-evaluation": state_pb2.MET_ON_TIME,
            "tsb.evaluation-evaluation.outpatient": state_pb2.OPEN})

        # The open deadline (next evaluation, 56 days after the last) on both worklists.
        next_evaluation = evaluated + 56 * day
        by_unit = self.call(self.stub.GetWorklist, service_pb2.GetWorklistRequest(unit=UNIT))
        by_coordinator = self.call(self.stub.GetWorklist,
                                   service_pb2.GetWorklistRequest(coordinator_id=COORDINATOR))
        self.assertEqual(as_day(by_unit.today), self.today)
        for worklist in (by_unit, by_coordinator):
            self.assertEqual(len(worklist.entries), 1)
            entry = worklist.entries[0]
            self.assertEqual(entry.pathway_id, pathway_id)
            self.assertEqual(entry.rule_id, "tsb.evaluation-evaluation.outpatient")
            self.assertEqual(entry.unit, UNIT)
            self.assertEqual(entry.coordinator_id, COORDINATOR)
            self.assertEqual(as_day(entry.due_date), next_evaluation)
            self.assertEqual(entry.status, state_pb2.OPEN)
            self.assertNotIn(FNR, entry.patient_key)
        breached = self.call(self.stub.GetWorklist, service_pb2.GetWorklistRequest(
            unit=UNIT, filter=service_pb2.BREACHED))
        self.assertEqual(len(breached.entries), 0)

        pathways = self.call(self.stub.ListPatientPathways, service_pb2.ListPatientPathwaysRequest(
            patient=events_pb2.PatientIdentifier(
                system=events_pb2.PatientIdentifier.NO_FODSELSNUMMER, value=FNR)))
        self.assertEqual([p.pathway_id for p in pathways.pathways], [pathway_id])

    def test_given_point_out_of_order_then_failed_precondition_naming_rule(self):
        started = self.call(self.stub.StartPathway, service_pb2.StartPathwayRequest(
            idempotency_key="py-start-2", pathway_type="NO_TSB", unit="py-other-unit",
            patient=events_pb2.PatientIdentifier(
                system=events_pb2.PatientIdentifier.NO_FODSELSNUMMER, value=FNR2),
            setting=catalogue_pb2.OUTPATIENT, start_date=date(self.today)))
        with self.assertRaises(grpc.RpcError) as caught:
            self.record(started.pathway_id, "py-kb-2", "klinisk_beslutning", self.today, "CT")
        self.assertEqual(caught.exception.code(), grpc.StatusCode.FAILED_PRECONDITION)
        self.assertIn("forste_fremmote", caught.exception.details())

    def test_health_is_serving(self):
        health = health_pb2_grpc.HealthStub(self.channel)
        for service in ("", "pathway.v1.PathwayService"):
            response = health.Check(health_pb2.HealthCheckRequest(service=service))
            self.assertEqual(response.status, health_pb2.HealthCheckResponse.SERVING)


if __name__ == "__main__":
    result = unittest.main(exit=False, verbosity=2).result
    sys.exit(0 if result.wasSuccessful() else 1)
