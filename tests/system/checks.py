"""Shared client workload and end-of-test consistency checks for the system tests."""

import datetime
import threading
import time

import grpc

import system_harness as h
from notify.v1 import service_pb2 as notify_pb2
from pathway.v1 import service_pb2 as pathway_pb2
from referral.v1 import events_pb2, service_pb2 as referral_pb2


def patient(national_id):
    return events_pb2.PatientIdentifier(
        system=events_pb2.PatientIdentifier.NO_FODSELSNUMMER, value=national_id)


def submit_and_assess(system, tag, national_id, unit, retry=True, now=None):
    """Submits and assesses (right to care NO_TSB) one referral; returns its id once both
    commands were acknowledged. Sending it again with the same `tag` and `now` sends the same
    commands (same keys, same contents)."""
    stub = system.referral_stub()
    now = now or datetime.datetime.now(datetime.timezone.utc)
    call = h.call_with_retry if retry else (
        lambda m, r: m(r, metadata=h.ACTOR, timeout=10))
    submitted = call(stub.SubmitReferral, h.submit_request(
        f"{tag}-submit", national_id, unit, now - datetime.timedelta(days=2)))
    call(stub.AssessReferral, h.assess_request(
        f"{tag}-assess", submitted.referral_id, now - datetime.timedelta(days=1)))
    return submitted.referral_id


class Workload:
    """A client thread that keeps submitting and assessing referrals, retrying UNAVAILABLE with
    the same idempotency keys; `acked` holds (referral_id, national_id) of every referral whose
    submit and assess were both acknowledged."""

    def __init__(self, system, unit, prefix, fnrs):
        self.system, self.unit, self.prefix, self.fnrs = system, unit, prefix, fnrs
        self.acked, self.errors = [], []
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)

    def _run(self):
        i = 0
        while not self.stop.is_set():
            national_id = self.fnrs.next()
            try:
                rid = submit_and_assess(self.system, f"{self.prefix}-{i}", national_id, self.unit)
                self.acked.append((rid, national_id))
            except grpc.RpcError as error:  # anything but UNAVAILABLE is a failure
                self.errors.append(f"{error.code()}: {error.details()}")
                return
            i += 1
            time.sleep(0.05)

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.stop.set()
        self.thread.join(timeout=150)

    def wait_for_more(self, n, timeout=60):
        target = len(self.acked) + n
        h.wait_until(lambda: len(self.acked) >= target or self.errors, timeout,
                     what=f"{n} more acknowledged referrals")


def assert_referrals_consistent(test, system, acked):
    """Every acknowledged referral exists in the referral service, assessed, at version 2."""
    stub = system.referral_stub()
    for rid, _ in acked:
        got = h.call_with_retry(stub.GetReferral, referral_pb2.GetReferralRequest(referral_id=rid))
        test.assertEqual(got.referral_id, rid)
        test.assertEqual(got.version, 2, f"referral {rid} has version {got.version}, not 2")


def pathways_of(system, national_id):
    return system.pathway_stub().ListPatientPathways(
        pathway_pb2.ListPatientPathwaysRequest(patient=patient(national_id)),
        metadata=h.ACTOR, timeout=5).pathways


def assert_one_pathway_each(test, system, acked, timeout=90):
    """Every acknowledged right-to-care referral has started exactly one pathway (none lost,
    none started twice), each a single PathwayStarted at version 1 with contiguous versions."""
    missing = {}

    def all_started():
        missing.clear()
        for rid, national_id in acked:
            found = pathways_of(system, national_id)
            if not found:
                missing[rid] = national_id
        return not missing
    try:
        h.wait_until(all_started, timeout, interval=1, what="a pathway for every referral")
    except AssertionError:
        raise AssertionError(f"{len(missing)} of {len(acked)} acknowledged referrals have no "
                             f"pathway: {sorted(missing)[:10]}")
    # Let late duplicates (if any) arrive before judging "exactly one".
    time.sleep(2)
    for rid, national_id in acked:
        found = pathways_of(system, national_id)
        test.assertEqual(len(found), 1, f"referral {rid}: {len(found)} pathways")
        p = found[0]
        test.assertEqual(p.referral_id, rid)
        starts = [e for e in p.timeline if e.what == "PathwayStarted"]
        test.assertEqual(len(starts), 1, f"pathway {p.pathway_id} started {len(starts)} times")
        test.assertEqual(sorted(e.version for e in p.timeline), list(range(1, p.version + 1)),
                         f"pathway {p.pathway_id}: versions not contiguous")


def list_notifications(system, unit):
    stub, token, out = system.notify_stub(), "", []
    while True:
        page = h.call_with_retry(stub.ListNotifications, notify_pb2.ListNotificationsRequest(
            unit=unit, page_size=500, page_token=token))
        out.extend(page.notifications)
        token = page.next_page_token
        if not token:
            return out


def assert_no_duplicate_notifications(test, system, unit):
    """No notification id twice, and no two notifications for the same purpose (kind,
    referral, pathway, rule, recipient)."""
    listed = list_notifications(system, unit)
    ids = [n.notification_id for n in listed]
    test.assertEqual(len(ids), len(set(ids)), "duplicate notification ids")
    purposes = [(n.kind, n.referral_id, n.pathway_id, n.params.get("rule", ""),
                 n.recipient.role, n.recipient.id) for n in listed]
    dupes = {p for p in purposes if purposes.count(p) > 1}
    test.assertFalse(dupes, f"notifications created twice for: {sorted(dupes)[:5]}")
    return listed
