"""Runs the whole Pathways system as child processes for the system tests.

Starts pathways-broker (librdkafka's mock cluster) and referral-server, pathway-server and
notify-server on free ports with one temporary data directory, waits for grpc.health.v1
SERVING, and can SIGKILL, SIGTERM and restart any process with the same flags. Every process
is killed in `stop_all` (call it from tearDown; it is also registered with atexit).

Run with /usr/bin/python3 (Debian's interpreter has grpc). Environment: PYTHONPATH holds the
generated stubs (build/python_gen), PATHWAYS_BIN_DIR the binaries, PATHWAYS_SOURCE_DIR the
source tree (catalogue, proto). The notify stubs are not part of python_gen: they are generated
here with Debian's protoc and grpc_python_plugin into a temporary directory.
"""

import atexit
import datetime
import os
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request

import grpc

BIN = os.environ.get("PATHWAYS_BIN_DIR", "build/bin")
SOURCE = os.environ.get("PATHWAYS_SOURCE_DIR", ".")
SECRET = "system-test-secret-0123456789"
REFERRAL_TOPIC = "pathways.referral.events.v1"
PATHWAY_TOPIC = "pathways.pathway.events.v1"
NOTIFY_TOPIC = "pathways.notify.events.v1"
DEADLETTER_TOPIC = "pathways.deadletter.v1"
ACTOR = (("x-actor-id", "system-test"),)

_stub_dir = None


def _ensure_notify_stubs():
    """Generates notify.v1 stubs once per interpreter (python_gen has none)."""
    global _stub_dir
    try:
        from notify.v1 import service_pb2_grpc  # noqa: F401
        return
    except ImportError:
        pass
    _stub_dir = tempfile.mkdtemp(prefix="pathways-notify-stubs-")
    protos = [f"notify/v1/{n}.proto" for n in ("events", "state", "service")]
    subprocess.run(
        ["/usr/bin/protoc", f"-I{SOURCE}/proto", f"--python_out={_stub_dir}",
         f"--grpc_python_out={_stub_dir}",
         "--plugin=protoc-gen-grpc_python=/usr/bin/grpc_python_plugin"] + protos,
        check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    sys.path.append(_stub_dir)
    # notify/ is a namespace package: let Python see the new portion.
    import importlib
    importlib.invalidate_caches()
    import notify  # noqa: F401
    if _stub_dir + "/notify" not in list(notify.__path__):
        notify.__path__.append(_stub_dir + "/notify")


_ensure_notify_stubs()

from grpc_ext import health_pb2, health_pb2_grpc  # noqa: E402


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def port_is_free(port):
    with socket.socket() as s:
        try:
            s.bind(("127.0.0.1", port))
            return True
        except OSError:
            return False


def fnr(birth, individual):
    """A valid Norwegian fødselsnummer for `birth` (date) and individual number, or None when
    the individual number gives check digit 10 (not issued)."""
    digits = [int(c) for c in birth.strftime("%d%m%y") + f"{individual:03d}"]
    w1 = [3, 7, 6, 1, 8, 9, 4, 5, 2]
    k1 = 11 - sum(a * b for a, b in zip(w1, digits)) % 11
    k1 = 0 if k1 == 11 else k1
    if k1 == 10:
        return None
    digits.append(k1)
    w2 = [5, 4, 3, 2, 7, 6, 5, 4, 3, 2]
    k2 = 11 - sum(a * b for a, b in zip(w2, digits)) % 11
    k2 = 0 if k2 == 11 else k2
    if k2 == 10:
        return None
    digits.append(k2)
    return "".join(map(str, digits))


class FnrGenerator:
    """Hands out distinct valid fødselsnummer (born 1950-1999, individual numbers 000-499)."""

    def __init__(self, seed_day=0):
        self.day = datetime.date(1950, 1, 1) + datetime.timedelta(days=seed_day)
        self.individual = 0
        self.lock = threading.Lock()

    def next(self):
        with self.lock:
            while True:
                value = fnr(self.day, self.individual)
                self.individual += 1
                if self.individual >= 500:
                    self.individual = 0
                    self.day += datetime.timedelta(days=1)
                if value:
                    return value


class Process:
    """One child process with fixed flags; its output is drained into `lines`."""

    def __init__(self, name, argv, ready_check, log_dir, env=None):
        self.name, self.argv, self.ready_check = name, argv, ready_check
        self.env = dict(os.environ, **(env or {}))
        self.log_path = os.path.join(log_dir, f"{name}.log")
        self.popen = None
        self.lines = []
        self.starts = 0

    def start(self, timeout=60):
        self.starts += 1
        log = open(self.log_path, "a")
        log.write(f"===== start {self.starts} =====\n")
        log.flush()
        self.popen = subprocess.Popen(self.argv, env=self.env, stdout=subprocess.PIPE,
                                      stderr=subprocess.STDOUT, text=True)
        popen, lines = self.popen, self.lines

        def drain():
            for line in popen.stdout:
                lines.append(line)
                log.write(line)
                log.flush()
            log.close()
            popen.stdout.close()
        threading.Thread(target=drain, daemon=True).start()
        self.ready_check(self, timeout)

    def alive(self):
        return self.popen is not None and self.popen.poll() is None

    def kill(self):
        if self.alive():
            self.popen.send_signal(signal.SIGKILL)
        if self.popen is not None:
            self.popen.wait(timeout=30)

    def terminate(self, timeout=40):
        """SIGTERM; returns the exit code."""
        if self.alive():
            self.popen.send_signal(signal.SIGTERM)
        try:
            return self.popen.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.popen.kill()
            self.popen.wait(timeout=10)
            raise

    def tail(self, n=30):
        return "".join(self.lines[-n:])


def _wait_health(port, timeout, process):
    """Waits until grpc.health.v1 reports SERVING (overall) on 127.0.0.1:port."""
    deadline = time.time() + timeout
    channel = grpc.insecure_channel(f"127.0.0.1:{port}")
    stub = health_pb2_grpc.HealthStub(channel)
    try:
        last = None
        while time.time() < deadline:
            if not process.alive():
                raise RuntimeError(f"{process.name} exited with {process.popen.returncode}:\n"
                                   f"{process.tail()}")
            try:
                reply = stub.Check(health_pb2.HealthCheckRequest(service=""), timeout=2)
                last = reply.status
                if reply.status == health_pb2.HealthCheckResponse.SERVING:
                    return
            except grpc.RpcError as error:
                last = error.code()
            time.sleep(0.2)
        raise TimeoutError(f"{process.name} not SERVING within {timeout}s (last {last}):\n"
                           f"{process.tail()}")
    finally:
        channel.close()


class System:
    """The broker and the three services on one temporary data directory."""

    def __init__(self, pathway_flags=(), notify_flags=(), referral_flags=()):
        self.tmp = tempfile.TemporaryDirectory(prefix="pathways-system-")
        self.data = self.tmp.name
        self.log_dir = os.path.join(self.data, "log")
        os.makedirs(self.log_dir)
        self.broker_port = free_port()
        self.bootstrap = f"127.0.0.1:{self.broker_port}"
        self.ports = {n: free_port() for n in ("referral", "pathway", "notify")}
        self.metrics_ports = {n: free_port() for n in ("referral", "pathway", "notify")}
        self.channel_file = os.path.join(self.data, "notifications.jsonl")
        env = {"PATHWAYS_PSEUDONYM_SECRET": SECRET}
        common = lambda name: [f"--grpc-listen=127.0.0.1:{self.ports[name]}",  # noqa: E731
                               f"--data-dir={self.data}/{name}",
                               f"--kafka-bootstrap={self.bootstrap}",
                               f"--metrics-listen=127.0.0.1:{self.metrics_ports[name]}"]
        catalogue = f"--catalogue-dirs={SOURCE}/catalogue"
        self.procs = {
            "broker": Process("broker", [f"{BIN}/pathways-broker", f"--listen={self.bootstrap}"],
                              self._broker_ready, self.log_dir),
            "referral": Process("referral", [f"{BIN}/referral-server"] + common("referral")
                                + list(referral_flags), self._health_ready("referral"),
                                self.log_dir, env),
            "pathway": Process("pathway", [f"{BIN}/pathway-server"] + common("pathway")
                               + [catalogue] + list(pathway_flags),
                               self._health_ready("pathway"), self.log_dir, env),
            "notify": Process("notify", [f"{BIN}/notify-server"] + common("notify")
                              + [catalogue, f"--file-channel-path={self.channel_file}"]
                              + list(notify_flags), self._health_ready("notify"),
                              self.log_dir, env),
        }
        self.channels = {}
        self.stopped = False
        atexit.register(self.stop_all)

    # --- readiness -------------------------------------------------------------------------
    def _broker_ready(self, process, timeout):
        deadline = time.time() + timeout
        while time.time() < deadline:
            if any('"ready"' in line for line in process.lines[-50:]):
                return
            if not process.alive():
                raise RuntimeError(f"broker exited with {process.popen.returncode}:\n"
                                   f"{process.tail()}")
            time.sleep(0.05)
        raise TimeoutError("broker not ready")

    def _health_ready(self, name):
        return lambda process, timeout: _wait_health(self.ports[name], timeout, process)

    # --- lifecycle -------------------------------------------------------------------------
    def start(self, names=("broker", "referral", "pathway", "notify")):
        for name in names:
            self.procs[name].start()

    def restart(self, name, timeout=90):
        """Starts `name` again with the same flags; the broker retries while its port is held."""
        if name == "broker":
            deadline = time.time() + 30
            while not port_is_free(self.broker_port) and time.time() < deadline:
                time.sleep(0.2)
        self.procs[name].start(timeout=timeout)

    def kill(self, name):
        self.procs[name].kill()

    def terminate(self, name):
        return self.procs[name].terminate()

    def stop_all(self):
        if self.stopped:
            return
        self.stopped = True
        for channel in self.channels.values():
            channel.close()
        for name in ("notify", "pathway", "referral", "broker"):
            try:
                self.procs[name].kill()
            except Exception:  # noqa: BLE001 - best effort cleanup
                pass
        if os.environ.get("PATHWAYS_KEEP_SYSTEM_DATA"):
            print(f"system data kept in {self.data}", file=sys.stderr)
        else:
            self.tmp.cleanup()

    def logs(self, name):
        return "".join(self.procs[name].lines)

    # --- clients ---------------------------------------------------------------------------
    def channel(self, name):
        if name not in self.channels:
            self.channels[name] = grpc.insecure_channel(f"127.0.0.1:{self.ports[name]}")
        return self.channels[name]

    def metrics(self, name):
        """The service's Prometheus metrics: {'name{labels}': value} from GET /metrics."""
        url = f"http://127.0.0.1:{self.metrics_ports[name]}/metrics"
        with urllib.request.urlopen(url, timeout=10) as response:
            text = response.read().decode()
        values = {}
        for line in text.splitlines():
            if line and not line.startswith("#"):
                key, _, value = line.rpartition(" ")
                values[key] = float(value)
        return values

    def referral_stub(self):
        from referral.v1 import service_pb2_grpc
        return service_pb2_grpc.ReferralServiceStub(self.channel("referral"))

    def pathway_stub(self):
        from pathway.v1 import service_pb2_grpc
        return service_pb2_grpc.PathwayServiceStub(self.channel("pathway"))

    def notify_stub(self):
        from notify.v1 import service_pb2_grpc
        return service_pb2_grpc.NotifyServiceStub(self.channel("notify"))


def wait_until(predicate, timeout, interval=0.25, what="condition"):
    """Polls `predicate` until it returns a truthy value (returned) or `timeout` passes."""
    deadline = time.time() + timeout
    last_error = None
    while time.time() < deadline:
        try:
            value = predicate()
            if value:
                return value
        except grpc.RpcError as error:
            last_error = error
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout}s waiting for {what}"
                         + (f" (last error {last_error.code()})" if last_error else ""))


# --- referral commands as a hospital integration issues them -------------------------------
def ts(moment):
    from google.protobuf import timestamp_pb2
    stamp = timestamp_pb2.Timestamp()
    stamp.FromDatetime(moment.astimezone(datetime.timezone.utc).replace(tzinfo=None))
    return stamp


def call_with_retry(method, request, deadline_s=120, per_call=10):
    """Calls until answered; retries UNAVAILABLE / DEADLINE_EXCEEDED (the same idempotency key
    makes a retry safe). Returns the response."""
    deadline = time.time() + deadline_s
    while True:
        try:
            return method(request, metadata=ACTOR, timeout=per_call)
        except grpc.RpcError as error:
            if error.code() not in (grpc.StatusCode.UNAVAILABLE,
                                    grpc.StatusCode.DEADLINE_EXCEEDED) or time.time() > deadline:
                raise
            time.sleep(0.2)


def submit_request(key, national_id, unit, received_at):
    from referral.v1 import events_pb2, service_pb2
    return service_pb2.SubmitReferralRequest(
        idempotency_key=key,
        patient=events_pb2.PatientIdentifier(
            system=events_pb2.PatientIdentifier.NO_FODSELSNUMMER, value=national_id),
        referrer=events_pb2.Referrer(name="Dr. Fastlege", organisation="Legekontoret"),
        receiving_unit=unit, received_at=ts(received_at), reason="system test",
        suspected_condition="F10.2", priority=events_pb2.PRIORITY_ORDINARY)


def assess_request(key, referral_id, assessed_at, pathway_type="NO_TSB", legal_days=90):
    """Right to care with a legal deadline `legal_days` after today (far enough not to breach)."""
    from eventing.v1 import types_pb2
    from referral.v1 import events_pb2, service_pb2
    legal = datetime.date.today() + datetime.timedelta(days=legal_days)
    return service_pb2.AssessReferralRequest(
        idempotency_key=key, referral_id=referral_id,
        assessment=events_pb2.Assessment(
            right_to_care=events_pb2.Assessment.RightToCare(
                pathway_type=pathway_type,
                legal_deadline=types_pb2.Date(year=legal.year, month=legal.month, day=legal.day)),
            assessed_at=ts(assessed_at), assessed_by="clinician-1"))
