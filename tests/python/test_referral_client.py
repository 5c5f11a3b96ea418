"""An outside client (Debian python3-grpcio) against the real referral-server process.

Starts the embedded broker and the referral service as child processes on free ports, calls
the service as a hospital integration would, then stops both with SIGTERM and checks they exit
cleanly. Run with /usr/bin/python3 (Debian's interpreter has the grpc module).
"""

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

import grpc
from google.protobuf import timestamp_pb2

from grpc_ext import health_pb2, health_pb2_grpc, reflection_pb2, reflection_pb2_grpc
from referral.v1 import events_pb2, service_pb2, service_pb2_grpc, state_pb2

BIN = os.environ.get("PATHWAYS_BIN_DIR", "build/bin")
FNR = "01019012480"  # valid check digits (see clinical_identity_test)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for_line(process, needle, timeout):
    deadline = time.time() + timeout
    while time.time() < deadline:
        line = process.stdout.readline() if process.stdout else ""
        if needle in line:
            return line
        if process.poll() is not None:
            raise RuntimeError(f"process exited early with {process.returncode}")
    raise TimeoutError(f"no line containing {needle!r}")


class ReferralClientTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.TemporaryDirectory()
        broker_port = free_port()
        cls.broker = subprocess.Popen(
            [f"{BIN}/pathways-broker", f"--listen=127.0.0.1:{broker_port}"],
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        wait_for_line(cls.broker, '"ready"', 30)
        cls.grpc_port = free_port()
        cls.server = subprocess.Popen(
            [f"{BIN}/referral-server", f"--grpc-listen=127.0.0.1:{cls.grpc_port}",
             f"--data-dir={cls.tmp.name}/referral",
             f"--kafka-bootstrap=127.0.0.1:{broker_port}"],
            env=dict(os.environ, PATHWAYS_PSEUDONYM_SECRET="python-test-secret-123"),
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        cls.log_lines = [wait_for_line(cls.server, '"serving"', 30)]
        # Keep draining both outputs so a full pipe never blocks a process.
        cls.drains = [threading.Thread(target=lambda p=p: cls.log_lines.extend(p.stdout),
                                       daemon=True) for p in (cls.server, cls.broker)]
        for drain in cls.drains:
            drain.start()
        cls.channel = grpc.insecure_channel(f"127.0.0.1:{cls.grpc_port}")
        grpc.channel_ready_future(cls.channel).result(timeout=10)
        cls.stub = service_pb2_grpc.ReferralServiceStub(cls.channel)

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
        assert server_rc == 0, f"referral-server exited with {server_rc}"
        assert broker_rc == 0, f"pathways-broker exited with {broker_rc}"
        # Logs are JSON lines and never carry the national id.
        for line in cls.log_lines:
            if line.strip().startswith("{"):
                json.loads(line)
            assert FNR not in line, "a log line carries the national id"

    def submit(self, key, fnr=FNR):
        received = timestamp_pb2.Timestamp()
        received.FromJsonString("2026-11-23T08:30:00Z")
        request = service_pb2.SubmitReferralRequest(
            idempotency_key=key,
            patient=events_pb2.PatientIdentifier(
                system=events_pb2.PatientIdentifier.NO_FODSELSNUMMER, value=fnr),
            referrer=events_pb2.Referrer(name="Dr. Fastlege", organisation="Legesenteret"),
            receiving_unit="ahus-tsb", received_at=received,
            reason="Rusproblematikk", suspected_condition="F10.2",
            priority=events_pb2.PRIORITY_ORDINARY)
        return self.stub.SubmitReferral(request, metadata=(("x-actor-id", "python-client"),))

    def test_given_referral_when_submitted_and_assessed_then_read_back(self):
        submitted = self.submit("py-1")
        self.assertEqual(submitted.version, 1)
        assessed_at = timestamp_pb2.Timestamp()
        assessed_at.FromJsonString("2026-11-25T10:00:00Z")
        assessment = events_pb2.Assessment(assessed_at=assessed_at)
        assessment.right_to_care.pathway_type = "NO_TSB"
        assessment.right_to_care.legal_deadline.year = 2027
        assessment.right_to_care.legal_deadline.month = 1
        assessment.right_to_care.legal_deadline.day = 4
        result = self.stub.AssessReferral(service_pb2.AssessReferralRequest(
            idempotency_key="py-1-assess", referral_id=submitted.referral_id,
            assessment=assessment))
        self.assertEqual(result.version, 2)
        referral = self.stub.GetReferral(
            service_pb2.GetReferralRequest(referral_id=submitted.referral_id))
        self.assertEqual(referral.status, state_pb2.RIGHT_TO_CARE)
        self.assertEqual(referral.assessment.right_to_care.pathway_type, "NO_TSB")
        # 23 Nov 2026 (Mon) + 10 working days (Sat/Sun off) = 7 Dec 2026.
        self.assertEqual((referral.assessment_deadline.year, referral.assessment_deadline.month,
                          referral.assessment_deadline.day), (2026, 12, 7))

    def test_given_bad_id_when_submitted_then_invalid_argument_naming_field(self):
        with self.assertRaises(grpc.RpcError) as caught:
            self.submit("py-bad", fnr="01019012481")
        self.assertEqual(caught.exception.code(), grpc.StatusCode.INVALID_ARGUMENT)
        self.assertIn("patient.value", caught.exception.details())

    def test_given_unknown_referral_when_read_then_not_found(self):
        with self.assertRaises(grpc.RpcError) as caught:
            self.stub.GetReferral(service_pb2.GetReferralRequest(referral_id="no-such"))
        self.assertEqual(caught.exception.code(), grpc.StatusCode.NOT_FOUND)

    def test_given_unassessed_referral_then_on_worklist(self):
        submitted = self.submit("py-worklist")
        as_of = timestamp_pb2.Timestamp()
        as_of.FromJsonString("2026-11-24T12:00:00Z")
        worklist = self.stub.GetAssessmentWorklist(
            service_pb2.GetAssessmentWorklistRequest(unit="ahus-tsb", as_of=as_of))
        ids = [item.referral.referral_id for item in worklist.items]
        self.assertIn(submitted.referral_id, ids)
        item = worklist.items[ids.index(submitted.referral_id)]
        self.assertFalse(item.overdue)
        self.assertEqual(item.working_days_left, 9)

    def test_health_is_serving(self):
        health = health_pb2_grpc.HealthStub(self.channel)
        response = health.Check(health_pb2.HealthCheckRequest(service=""))
        self.assertEqual(response.status, health_pb2.HealthCheckResponse.SERVING)
        response = health.Check(health_pb2.HealthCheckRequest(
            service="referral.v1.ReferralService"))
        self.assertEqual(response.status, health_pb2.HealthCheckResponse.SERVING)

    def test_reflection_lists_the_referral_service(self):
        stub = reflection_pb2_grpc.ServerReflectionStub(self.channel)
        responses = stub.ServerReflectionInfo(
            iter([reflection_pb2.ServerReflectionRequest(list_services="")]))
        names = [s.name for r in responses for s in r.list_services_response.service]
        self.assertIn("referral.v1.ReferralService", names)
        self.assertIn("grpc.health.v1.Health", names)


if __name__ == "__main__":
    result = unittest.main(exit=False, verbosity=2).result
    sys.exit(0 if result.wasSuccessful() else 1)
