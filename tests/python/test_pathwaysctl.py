"""The command-line client (tools/pathwaysctl) against the real services.

Starts the embedded broker and the referral, pathway and notify services as child processes on
free ports (the pathway service's deadline timer every 2 s), then runs `pathwaysctl` as a
subprocess as a person or a script would: submit and assess a referral, wait for the pathway the
pathway service starts, record a point, read worklists (tables and --json), check the error
messages and exit codes, watch notifications, and run `pathwaysctl demo` once. Stops everything
with SIGTERM and checks the exit codes. Run with /usr/bin/python3.
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

BIN = os.environ.get("PATHWAYS_BIN_DIR", "build/bin")
SOURCE = os.environ.get("PATHWAYS_SOURCE_DIR", ".")
CLI = os.path.join(SOURCE, "tools", "pathwaysctl", "pathwaysctl")
FNR = "24120012343"    # valid check digits (see clinical_identity_test)
FNR2 = "01019012480"
UNIT = "cli-tsb"
SECRET = "python-cli-test-secret-123"


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def python_gen():
    if os.environ.get("PATHWAYS_PYTHON_GEN"):
        return os.environ["PATHWAYS_PYTHON_GEN"]
    for entry in os.environ.get("PYTHONPATH", "").split(os.pathsep):
        if entry and os.path.isfile(os.path.join(entry, "referral", "v1", "service_pb2.py")):
            return entry
    return os.path.join(SOURCE, "build", "python_gen")


def wait_for_line(process, needle, timeout, seen):
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


class PathwaysctlTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.TemporaryDirectory()
        data = cls.tmp.name
        cls.processes, cls.lines, cls.drains = [], {}, []
        broker_port = free_port()
        kafka = f"127.0.0.1:{broker_port}"
        env = dict(os.environ, PATHWAYS_PSEUDONYM_SECRET=SECRET)
        cls.ports = {name: free_port() for name in ("referral", "pathway", "notify")}
        commands = [
            ("broker", [f"{BIN}/pathways-broker", f"--listen={kafka}"], '"ready"'),
            ("referral", [f"{BIN}/referral-server",
                          f"--grpc-listen=127.0.0.1:{cls.ports['referral']}",
                          f"--data-dir={data}/referral", f"--kafka-bootstrap={kafka}"],
             '"serving"'),
            ("pathway", [f"{BIN}/pathway-server",
                         f"--grpc-listen=127.0.0.1:{cls.ports['pathway']}",
                         f"--data-dir={data}/pathway", f"--kafka-bootstrap={kafka}",
                         f"--catalogue-dirs={SOURCE}/catalogue", "--timer-interval-seconds=2"],
             '"serving"'),
            ("notify", [f"{BIN}/notify-server",
                        f"--grpc-listen=127.0.0.1:{cls.ports['notify']}",
                        f"--data-dir={data}/notify", f"--kafka-bootstrap={kafka}",
                        f"--catalogue-dirs={SOURCE}/catalogue",
                        f"--file-channel-path={data}/notifications.jsonl"],
             '"serving"'),
        ]
        try:
            for name, command, ready in commands:
                process = subprocess.Popen(command, env=env, stdout=subprocess.PIPE,
                                           stderr=subprocess.STDOUT, text=True)
                cls.processes.append((name, process))
                cls.lines[name] = []
                # SERVING once the service's consumers have joined their groups.
                wait_for_line(process, ready, 90, cls.lines[name])
                # Keep draining the output so a full pipe never blocks a process.
                drain = threading.Thread(
                    target=lambda p=process, out=cls.lines[name]: out.extend(p.stdout),
                    daemon=True)
                drain.start()
                cls.drains.append(drain)
        except Exception:
            cls.stop_all()
            raise
        cls.env = dict(
            os.environ,
            PATHWAYS_PYTHON_GEN=python_gen(),
            PATHWAYS_REFERRAL_ADDR=f"127.0.0.1:{cls.ports['referral']}",
            PATHWAYS_PATHWAY_ADDR=f"127.0.0.1:{cls.ports['pathway']}",
            PATHWAYS_NOTIFY_ADDR=f"127.0.0.1:{cls.ports['notify']}",
            XDG_CACHE_HOME=os.path.join(data, "cache"),  # notify stubs, when the build has none
            USER="cli-test")

    @classmethod
    def stop_all(cls):
        codes = {}
        for name, process in reversed(cls.processes):
            process.send_signal(signal.SIGTERM)
            try:
                codes[name] = process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()
                codes[name] = process.wait()
        for drain in cls.drains:
            drain.join(timeout=10)
        return codes

    @classmethod
    def tearDownClass(cls):
        codes = cls.stop_all()
        cls.tmp.cleanup()
        for name, code in codes.items():
            assert code == 0, f"{name} exited with {code}: {cls.lines[name][-5:]}"

    # -- helpers

    def cli(self, *args, timeout=60):
        return subprocess.run([CLI, *args], env=self.env, capture_output=True, text=True,
                              timeout=timeout)

    def ok(self, *args, timeout=60):
        result = self.cli(*args, timeout=timeout)
        self.assertEqual(result.returncode, 0,
                         f"pathwaysctl {' '.join(args)}: {result.stderr}{result.stdout}")
        return result.stdout

    def ok_json(self, *args):
        return json.loads(self.ok("--json", *args))

    def wait_for(self, what, probe, timeout=30):
        deadline = time.time() + timeout
        while time.time() < deadline:
            value = probe()
            if value:
                return value
            time.sleep(0.3)
        self.fail(f"timed out waiting for {what}")

    def submit(self, referral_id, fnr, *extra):
        return self.ok_json("referral", "submit", "--patient-id", fnr, "--unit", UNIT,
                            "--reason", "Rusproblematikk", "--referrer-name", "Dr. Fastlege",
                            "--referral-id", referral_id, *extra)

    # -- tests (unittest runs them in name order; each uses its own referrals)

    def test_0_demo_generates_valid_national_ids(self):
        sys.path.insert(0, os.path.dirname(CLI))
        from pathwaysctl_lib import demo

        self.assertEqual(demo.fodselsnummer(datetime.date(1990, 1, 1), 124), FNR2)
        self.assertEqual(demo.fodselsnummer(datetime.date(1900, 12, 24), 123), FNR)
        self.assertTrue(demo.is_valid_fodselsnummer(FNR))
        self.assertFalse(demo.is_valid_fodselsnummer("01019012481"))
        import random
        rng, used = random.Random(1), set()
        for synthetic in (False, True):
            for _ in range(200):
                value = demo.random_fodselsnummer(rng, synthetic, used)
                self.assertTrue(demo.is_valid_fodselsnummer(value), value)
                self.assertLess(int(value[6:9]), 500)  # born 1900-1999
                self.assertEqual(int(value[2:4]) > 80, synthetic)
        self.assertEqual(len(used), 400)

    def test_a_help_documents_commands_and_exit_codes(self):
        for args in ([], ["referral", "submit"], ["referral", "assess"], ["pathway", "worklist"],
                     ["pathway", "appointment", "schedule"], ["notify", "watch"], ["demo"]):
            out = self.ok(*args, "--help")
            self.assertIn("usage: pathwaysctl", out)
            self.assertIn("exit codes:", out)
        self.assertIn("--legal-deadline", self.ok("referral", "assess", "--help"))
        self.assertIn("due-within", self.ok("pathway", "worklist", "--help"))
        # No command at all is a usage error.
        self.assertEqual(self.cli().returncode, 2)

    def test_b_referral_to_pathway_to_worklist(self):
        submitted = self.submit("cli-r1", FNR, "--received", "now-2d", "--condition", "F10.2")
        self.assertEqual(submitted["referral_id"], "cli-r1")
        self.assertEqual(int(submitted["version"]), 1)
        self.assertFalse(submitted["replayed"])
        # A retry with the same idempotency key (and the same request) is answered, not applied
        # again.
        received = (datetime.datetime.now(datetime.timezone.utc)
                    - datetime.timedelta(hours=1)).replace(microsecond=0).isoformat()
        retry = ("referral", "submit", "--patient-id", FNR2, "--unit", UNIT, "--reason", "Angst",
                 "--referrer-name", "Dr. Fastlege", "--idempotency-key", "cli-retry-1",
                 "--received", received)
        first = self.ok_json(*retry)
        again = self.ok_json(*retry)
        self.assertTrue(again["replayed"])
        self.assertEqual(again["referral_id"], first["referral_id"])

        # Table output names the referral and its version.
        out = self.ok("referral", "assess", "cli-r1", "--right-to-care", "--legal-deadline",
                      "today+20", "--pathway-type", "NO_TSB", "--assessed-at", "now-1d")
        self.assertIn("cli-r1", out)
        self.assertIn("version", out)

        # The pathway service starts the pathway from the assessment.
        def started():
            pathways = self.ok_json("pathway", "patient", "--id", FNR)["pathways"]
            return [p for p in pathways if p["referral_id"] == "cli-r1"]
        pathway = self.wait_for("the pathway", started)[0]
        self.assertEqual(pathway["pathway_type"], "NO_TSB")
        self.assertEqual(pathway["unit"], UNIT)
        pathway_id = pathway["pathway_id"]

        recorded = self.ok_json("pathway", "record", pathway_id, "--point", "forste_fremmote",
                                "--date", "today")
        self.assertEqual(recorded["pathway_id"], pathway_id)

        shown = self.ok("pathway", "get", pathway_id)
        for text in ("Timeline", "Deadlines", "forste_fremmote", "tsb.attendance-decision"):
            self.assertIn(text, shown)

        # The clinical-decision deadline (21 days outpatient) is on the unit's worklist.
        table = self.ok("pathway", "worklist", "--unit", UNIT)
        self.assertIn("tsb.attendance-decision.outpatient", table)
        self.assertIn("DAYS LEFT", table)
        worklist = self.ok_json("pathway", "worklist", "--unit", UNIT)
        rules = {e["rule_id"]: e for e in worklist["entries"] if e["pathway_id"] == pathway_id}
        self.assertIn("tsb.attendance-decision.outpatient", rules)
        self.assertEqual(rules["tsb.attendance-decision.outpatient"]["status"], "OPEN")
        breached = self.ok_json("pathway", "worklist", "--unit", UNIT, "--filter", "breached")
        self.assertEqual(breached["entries"], [])
        soon = self.ok_json("pathway", "worklist", "--unit", UNIT, "--filter", "due-within", "5")
        self.assertNotIn(pathway_id, [e["pathway_id"] for e in soon["entries"]])

        # The unassessed referral is on the assessment worklist, with working days left.
        assessment = self.ok("referral", "worklist", "--unit", UNIT)
        self.assertIn(first["referral_id"], assessment)
        self.assertIn("WORKING DAYS LEFT", assessment)
        listed = self.ok_json("referral", "list", "--unit", UNIT, "--status", "right-to-care")
        self.assertEqual([r["referral_id"] for r in listed["referrals"]], ["cli-r1"])

        # The unit's inbox gets the assessment reminder of the unassessed referral.
        def reminder():
            items = self.ok_json("notify", "list", "--unit", UNIT)["notifications"]
            return [n for n in items if n["kind"] == "ASSESSMENT_REMINDER"
                    and first["referral_id"] in (n["referral_id"], n["params"].get("referral"))]
        self.wait_for("the assessment reminder", reminder)

    def test_c_errors_name_the_code_and_field(self):
        bad = self.cli("referral", "submit", "--patient-id", "12345678901", "--unit", UNIT,
                       "--reason", "x", "--referrer-name", "Dr. Fastlege")
        self.assertEqual(bad.returncode, 3, bad.stderr)
        self.assertTrue(bad.stderr.startswith("pathwaysctl: INVALID_ARGUMENT: "), bad.stderr)
        self.assertIn("patient.value", bad.stderr)

        missing = self.cli("referral", "get", "no-such-referral")
        self.assertEqual(missing.returncode, 4, missing.stderr)
        self.assertIn("pathwaysctl: NOT_FOUND:", missing.stderr)

        self.submit("cli-r2", FNR2, "--received", "now-3h")
        self.ok("referral", "assess", "cli-r2", "--no-right", "--reason", "Fastlege følger opp")
        twice = self.cli("referral", "assess", "cli-r2", "--returned", "--reason", "again")
        self.assertEqual(twice.returncode, 5, twice.stderr)
        self.assertIn("pathwaysctl: FAILED_PRECONDITION:", twice.stderr)

        usage = self.cli("referral", "assess", "cli-r2")
        self.assertEqual(usage.returncode, 2)
        self.assertIn("exactly one outcome", usage.stderr)
        usage = self.cli("pathway", "worklist", "--unit", UNIT, "--filter", "due-within")
        self.assertEqual(usage.returncode, 2)

        unreachable = self.cli("--referral", f"127.0.0.1:{free_port()}", "--timeout", "2",
                               "referral", "get", "cli-r2")
        self.assertEqual(unreachable.returncode, 6, unreachable.stderr)

    def test_d_demo_fills_worklist_and_notifications(self):
        result = self.cli("demo", "--breach-wait", "60", timeout=240)
        self.assertEqual(result.returncode, 0, result.stderr + result.stdout)
        out = result.stdout
        self.assertIn("Worklist of coordinator coord-kari", out)
        self.assertIn("ahus-tsb", out)
        self.assertIn("lorenskog-dps", out)
        self.assertIn("BREACHED", out)  # the timer runs every 2 s here
        self.assertIn("Notifications of coordinator coord-kari", out)
        self.assertIn("BREACH_ALERT", out)
        self.assertIn("NO_SHOW_ALERT", out)

        worklist = self.ok_json("pathway", "worklist", "--coordinator", "coord-kari")
        self.assertEqual({e["unit"] for e in worklist["entries"]}, {"ahus-tsb", "lorenskog-dps"})
        inbox = self.ok_json("notify", "list", "--recipient", "coord-kari")["notifications"]
        self.assertTrue(inbox)

        # Watching from the beginning replays the feed, each update with its cursor; resuming
        # after the first update's cursor continues with the second.
        watched = self.ok("--json", "notify", "watch", "--recipient", "coord-kari",
                          "--from-beginning", "--count", "2", "--for", "20")
        lines = [json.loads(line) for line in watched.splitlines()]
        self.assertEqual(len(lines), 3, watched)  # the start line and two updates
        first, second = lines[1], lines[2]
        resumed = self.ok("--json", "notify", "watch", "--recipient", "coord-kari",
                          "--cursor", first["cursor"], "--count", "1", "--for", "20")
        self.assertEqual(json.loads(resumed.splitlines()[1])["cursor"], second["cursor"])

        # A sent alert can be acknowledged; a second acknowledgement is refused or replayed.
        sent = [n for n in inbox if n["status"] == "SENT"]
        self.assertTrue(sent, inbox)
        acked = self.ok_json("notify", "ack", sent[0]["notification_id"])
        self.assertGreater(int(acked["version"]), 0)


if __name__ == "__main__":
    result = unittest.main(exit=False, verbosity=2).result
    sys.exit(0 if result.wasSuccessful() else 1)
