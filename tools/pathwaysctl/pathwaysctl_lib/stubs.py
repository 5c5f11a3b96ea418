"""Finds and loads the generated Python stubs (protoc + grpc_python_plugin output).

The build writes them to <repo>/build/python_gen; PATHWAYS_PYTHON_GEN points elsewhere. Modules
are loaded lazily, on the first command that needs them, so `--help` works without a build.
After `load()` the generated modules are attributes of this module (`stubs.rsvc`, ...).

The notify service's stubs are used from the same directory when the build generated them;
otherwise they are generated once from <repo>/proto/notify/v1 with Debian's protoc into a cache
directory (XDG_CACHE_HOME, else ~/.cache), keyed by the proto files' contents.
"""

import hashlib
import importlib.util
import os
import subprocess
import sys
import tempfile

_gen_dir = None
_repo_root = None
_loaded = False
_notify_loaded = False

PROTOC = "/usr/bin/protoc"
GRPC_PLUGIN = "/usr/bin/grpc_python_plugin"
NOTIFY_PROTOS = ("notify/v1/events.proto", "notify/v1/state.proto", "notify/v1/service.proto")


class StubsMissing(Exception):
    """The generated stubs (or the grpc module) are not available; the message says what to do."""


def setup(repo_root):
    """Remembers where the stubs are; called by the entry script before anything is imported."""
    global _gen_dir, _repo_root
    _repo_root = repo_root
    _gen_dir = os.environ.get("PATHWAYS_PYTHON_GEN") or os.path.join(repo_root, "build",
                                                                     "python_gen")
    _gen_dir = os.path.abspath(_gen_dir)


def gen_dir():
    return _gen_dir


def _require_file(relative):
    path = os.path.join(_gen_dir, relative)
    if not os.path.isfile(path):
        raise StubsMissing(
            f"generated Python stubs not found ({path} is missing): run scripts/build.sh first, "
            "or set PATHWAYS_PYTHON_GEN to the build's python_gen directory")


def load():
    """Imports the referral and pathway stubs (and grpc); raises StubsMissing with advice."""
    global _loaded
    if _loaded:
        return
    if _gen_dir is None:
        raise StubsMissing("stubs.setup() was not called")
    _require_file("referral/v1/service_pb2_grpc.py")
    _require_file("pathway/v1/service_pb2_grpc.py")
    if _gen_dir not in sys.path:
        sys.path.insert(0, _gen_dir)
    if importlib.util.find_spec("grpc") is None:
        raise StubsMissing(
            f"the Python grpc module is missing in {sys.executable}: run pathwaysctl with "
            "Debian's /usr/bin/python3 and install python3-grpcio")
    from catalogue.v1 import catalogue_pb2
    from eventing.v1 import types_pb2
    from pathway.v1 import service_pb2 as pathway_service_pb2
    from pathway.v1 import service_pb2_grpc as pathway_service_pb2_grpc
    from pathway.v1 import state_pb2 as pathway_state_pb2
    from referral.v1 import events_pb2 as referral_events_pb2
    from referral.v1 import service_pb2 as referral_service_pb2
    from referral.v1 import service_pb2_grpc as referral_service_pb2_grpc
    from referral.v1 import state_pb2 as referral_state_pb2

    g = globals()
    g.update(cat=catalogue_pb2, types=types_pb2, psvc=pathway_service_pb2,
             pgrpc=pathway_service_pb2_grpc, pstate=pathway_state_pb2,
             revents=referral_events_pb2, rsvc=referral_service_pb2,
             rgrpc=referral_service_pb2_grpc, rstate=referral_state_pb2)
    _loaded = True


def _proto_root():
    return os.path.join(_repo_root, "proto") if _repo_root else None


def _generate_notify():
    """Generates the notify stubs into a cache directory; returns the directory."""
    root = _proto_root()
    sources = [os.path.join(root, p) for p in NOTIFY_PROTOS] if root else []
    if not sources or not all(os.path.isfile(s) for s in sources):
        raise StubsMissing(
            f"notify stubs not found in {_gen_dir} and the notify protos are not beside "
            "pathwaysctl: run scripts/build.sh first")
    for tool in (PROTOC, GRPC_PLUGIN):
        if not os.access(tool, os.X_OK):
            raise StubsMissing(
                f"notify stubs not found in {_gen_dir} and {tool} is missing to generate them: "
                "run scripts/build.sh first (or apt-get install protobuf-compiler "
                "protobuf-compiler-grpc)")
    digest = hashlib.sha256()
    for s in sources:
        with open(s, "rb") as f:
            digest.update(f.read())
    cache = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    target = os.path.join(cache, "pathwaysctl", "notify-stubs-" + digest.hexdigest()[:16])
    if os.path.isfile(os.path.join(target, "notify", "v1", "service_pb2_grpc.py")):
        return target
    try:
        os.makedirs(os.path.dirname(target), exist_ok=True)
        work = tempfile.mkdtemp(prefix=".notify-stubs-", dir=os.path.dirname(target))
    except OSError:
        work = tempfile.mkdtemp(prefix="pathwaysctl-notify-stubs-")
        target = work
    result = subprocess.run(
        [PROTOC, f"-I{root}", f"--python_out={work}", f"--grpc_python_out={work}",
         f"--plugin=protoc-gen-grpc_python={GRPC_PLUGIN}", *NOTIFY_PROTOS],
        cwd=root, capture_output=True, text=True)
    if result.returncode != 0:
        raise StubsMissing(f"generating the notify stubs failed: {result.stderr.strip()}")
    if work != target:
        try:
            os.rename(work, target)
        except OSError:  # another pathwaysctl won the race: use its copy
            target = target if os.path.isdir(target) else work
    return target


def load_notify():
    """Imports the notify stubs (generating them when the build did not)."""
    global _notify_loaded
    load()
    if _notify_loaded:
        return
    if not os.path.isfile(os.path.join(_gen_dir, "notify", "v1", "service_pb2_grpc.py")):
        extra = _generate_notify()
        # notify/ and notify/v1/ are namespace packages: another path entry is enough.
        if extra not in sys.path:
            sys.path.append(extra)
    from notify.v1 import events_pb2 as notify_events_pb2
    from notify.v1 import service_pb2 as notify_service_pb2
    from notify.v1 import service_pb2_grpc as notify_service_pb2_grpc
    from notify.v1 import state_pb2 as notify_state_pb2

    globals().update(nevents=notify_events_pb2, nsvc=notify_service_pb2,
                     ngrpc=notify_service_pb2_grpc, nstate=notify_state_pb2)
    _notify_loaded = True
