"""Channels, call metadata, timeouts and the mapping of gRPC errors to exit codes."""

import getpass
import os
import uuid

from . import stubs

DEFAULT_ADDRESSES = {
    "referral": "127.0.0.1:50061",
    "pathway": "127.0.0.1:50062",
    "notify": "127.0.0.1:50063",
}
ADDRESS_ENV = {
    "referral": "PATHWAYS_REFERRAL_ADDR",
    "pathway": "PATHWAYS_PATHWAY_ADDR",
    "notify": "PATHWAYS_NOTIFY_ADDR",
}

# Exit codes, documented in `pathwaysctl --help`.
EXIT_OK = 0
EXIT_OTHER = 1
EXIT_USAGE = 2
EXIT_INVALID = 3
EXIT_NOT_FOUND = 4
EXIT_CONFLICT = 5
EXIT_UNAVAILABLE = 6

_EXIT_BY_CODE = {
    "INVALID_ARGUMENT": EXIT_INVALID,
    "OUT_OF_RANGE": EXIT_INVALID,
    "NOT_FOUND": EXIT_NOT_FOUND,
    "ALREADY_EXISTS": EXIT_CONFLICT,
    "FAILED_PRECONDITION": EXIT_CONFLICT,
    "ABORTED": EXIT_CONFLICT,
    "UNAVAILABLE": EXIT_UNAVAILABLE,
    "DEADLINE_EXCEEDED": EXIT_UNAVAILABLE,
}

EXIT_CODES_HELP = """\
exit codes:
  0  ok
  1  any other error (internal, permission, stubs missing, ...)
  2  usage error (bad or missing arguments)
  3  INVALID_ARGUMENT: the service rejected a field (the message names it)
  4  NOT_FOUND
  5  ALREADY_EXISTS, FAILED_PRECONDITION (a step out of order) or ABORTED (stale version)
  6  UNAVAILABLE or DEADLINE_EXCEEDED: the service is not reachable or did not answer in time
Errors are printed to stderr as "pathwaysctl: <CODE>: <details>"."""


def default_actor():
    try:
        return os.environ.get("USER") or getpass.getuser() or "pathwaysctl"
    except Exception:  # no user name at all (some containers)
        return "pathwaysctl"


def default_address(service):
    return os.environ.get(ADDRESS_ENV[service]) or DEFAULT_ADDRESSES[service]


def new_idempotency_key():
    return str(uuid.uuid4())


class CommandError(Exception):
    """An error pathwaysctl reports itself (not a gRPC status); `code` names it."""

    def __init__(self, code, details, exit_code=EXIT_OTHER):
        super().__init__(f"{code}: {details}")
        self.code = code
        self.details = details
        self.exit_code = exit_code


def exit_code_for(status_name):
    return _EXIT_BY_CODE.get(status_name, EXIT_OTHER)


class Connection:
    """Lazily opened channels to the three services, and the per-call options."""

    def __init__(self, addresses, actor, timeout):
        self.addresses = dict(addresses)
        self.actor = actor
        self.timeout = timeout
        self._channels = {}
        self._stubs = {}

    def _channel(self, service):
        import grpc

        if service not in self._channels:
            self._channels[service] = grpc.insecure_channel(self.addresses[service])
        return self._channels[service]

    @property
    def metadata(self):
        return (("x-actor-id", self.actor),)

    def referral(self):
        stubs.load()
        if "referral" not in self._stubs:
            self._stubs["referral"] = stubs.rgrpc.ReferralServiceStub(self._channel("referral"))
        return self._stubs["referral"]

    def pathway(self):
        stubs.load()
        if "pathway" not in self._stubs:
            self._stubs["pathway"] = stubs.pgrpc.PathwayServiceStub(self._channel("pathway"))
        return self._stubs["pathway"]

    def notify(self):
        stubs.load_notify()
        if "notify" not in self._stubs:
            self._stubs["notify"] = stubs.ngrpc.NotifyServiceStub(self._channel("notify"))
        return self._stubs["notify"]

    def call(self, method, request, timeout=None):
        """A unary call with the actor's metadata and the timeout; gRPC errors propagate."""
        return method(request, metadata=self.metadata,
                      timeout=self.timeout if timeout is None else timeout)

    def stream(self, method, request):
        """A server-streaming call without a deadline (it runs until cancelled)."""
        return method(request, metadata=self.metadata)

    def pages(self, method, request, follow_all):
        """Yields the responses of a paged query: one page, or every page with `follow_all`."""
        while True:
            response = self.call(method, request)
            yield response
            if not follow_all or not response.next_page_token:
                return
            request.page_token = response.next_page_token

    def close(self):
        for channel in self._channels.values():
            channel.close()
        self._channels.clear()
        self._stubs.clear()
