"""System test: the full story across referral, pathway and notify over Kafka.

A referral is submitted and assessed with right to care NO_TSB; the pathway policy starts the
pathway from the referral events; the first attendance is recorded 30 days ago, so the 21-day
clinical-decision deadline is already passed; the deadline timer (every second) records the
breach (GetPathway, ListBreaches); notify sends a BREACH_ALERT over the file channel (status
SENT, one JSON line) which is then acknowledged (ACKNOWLEDGED).
"""

import datetime
import json
import os
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import system_harness as h  # noqa: E402

from eventing.v1 import types_pb2  # noqa: E402
from notify.v1 import events_pb2 as notify_events_pb2  # noqa: E402
from notify.v1 import service_pb2 as notify_pb2  # noqa: E402
from notify.v1 import state_pb2 as notify_state_pb2  # noqa: E402
from pathway.v1 import service_pb2 as pathway_pb2  # noqa: E402
from pathway.v1 import state_pb2 as pathway_state_pb2  # noqa: E402
from referral.v1 import events_pb2  # noqa: E402

UNIT = "sys-story-tsb"
DECISION_RULE = "tsb.attendance-decision.outpatient"


def date(day):
    return types_pb2.Date(year=day.year, month=day.month, day=day.day)


class FullStoryTest(unittest.TestCase):
    def setUp(self):
        self.system = h.System(pathway_flags=["--timer-interval-seconds=1"],
                               notify_flags=["--dispatch-interval-ms=200"])
        self.addCleanup(self.system.stop_all)
        self.system.start()

    def test_referral_to_breach_alert_acknowledged(self):
        s = self.system
        referral, pathway, notify = s.referral_stub(), s.pathway_stub(), s.notify_stub()
        now = datetime.datetime.now(datetime.timezone.utc)
        today = datetime.date.today()
        national_id = h.FnrGenerator(seed_day=1000).next()
        patient = events_pb2.PatientIdentifier(
            system=events_pb2.PatientIdentifier.NO_FODSELSNUMMER, value=national_id)

        submitted = h.call_with_retry(referral.SubmitReferral, h.submit_request(
            "story-submit", national_id, UNIT, now - datetime.timedelta(days=35)))
        self.assertEqual(submitted.version, 1)
        assessed = h.call_with_retry(referral.AssessReferral, h.assess_request(
            "story-assess", submitted.referral_id, now - datetime.timedelta(days=31)))
        self.assertEqual(assessed.version, 2)

        # The pathway policy starts the pathway from the referral events on Kafka.
        started = h.wait_until(lambda: pathway.ListPatientPathways(
            pathway_pb2.ListPatientPathwaysRequest(patient=patient), metadata=h.ACTOR,
            timeout=5).pathways, 60, what="pathway started by the policy")
        self.assertEqual(len(started), 1)
        self.assertEqual(started[0].referral_id, submitted.referral_id)
        self.assertEqual(started[0].pathway_type, "NO_TSB")
        pathway_id = started[0].pathway_id

        attended = today - datetime.timedelta(days=30)
        recorded = h.call_with_retry(pathway.RecordPoint, pathway_pb2.RecordPointRequest(
            idempotency_key="story-ff", pathway_id=pathway_id, point_id="forste_fremmote",
            date=date(attended)))
        self.assertEqual(recorded.version, 2)

        def breached_decision():
            got = pathway.GetPathway(pathway_pb2.GetPathwayRequest(pathway_id=pathway_id),
                                     metadata=h.ACTOR, timeout=5)
            for d in got.deadlines:
                if d.rule_id == DECISION_RULE and d.breach_recorded:
                    return got, d
            return None
        got, deadline = h.wait_until(breached_decision, 30, what="breach recorded")
        self.assertEqual(deadline.status, pathway_state_pb2.OPEN)
        due = attended + datetime.timedelta(days=21)
        self.assertEqual((deadline.due_date.year, deadline.due_date.month, deadline.due_date.day),
                         (due.year, due.month, due.day))
        versions = [e.version for e in got.timeline]
        self.assertEqual(sorted(versions), list(range(1, got.version + 1)),
                         "pathway timeline versions are not contiguous")

        breaches = h.wait_until(lambda: [e for e in pathway.ListBreaches(
            pathway_pb2.ListBreachesRequest(unit=UNIT, **{"from": date(today - datetime.timedelta(days=400)),
                                                          "to": date(today + datetime.timedelta(days=1))},
                                            page_size=100),
            metadata=h.ACTOR, timeout=5).entries if e.deadline_id == deadline.deadline_id], 20,
            what="breach in ListBreaches")
        self.assertEqual(len(breaches), 1)
        self.assertEqual(breaches[0].pathway_id, pathway_id)
        self.assertTrue(breaches[0].breach_recorded)
        self.assertNotIn(national_id, str(breaches[0]))

        def sent_alert():
            listed = notify.ListNotifications(notify_pb2.ListNotificationsRequest(
                unit=UNIT, page_size=100), metadata=h.ACTOR, timeout=5).notifications
            alerts = [n for n in listed if n.kind == notify_events_pb2.BREACH_ALERT
                      and n.pathway_id == pathway_id and n.params["rule"] == DECISION_RULE]
            return alerts if alerts and all(
                a.status == notify_state_pb2.SENT for a in alerts) else None
        try:
            alerts = h.wait_until(sent_alert, 60, what="BREACH_ALERT sent")
        except AssertionError:
            listed = notify.ListNotifications(notify_pb2.ListNotificationsRequest(
                unit=UNIT, page_size=100), metadata=h.ACTOR, timeout=5).notifications
            print("notifications:", listed, "\nnotify log tail:\n", s.procs["notify"].tail(40),
                  file=sys.stderr)
            raise
        self.assertEqual(len(alerts), 1, f"more than one breach alert: {alerts}")
        alert = alerts[0]
        self.assertEqual(alert.pathway_id, pathway_id)
        self.assertEqual(alert.channel, notify_events_pb2.FILE)

        def file_lines():
            if not os.path.exists(s.channel_file):
                return None
            with open(s.channel_file) as f:
                lines = [json.loads(line) for line in f if line.strip()]
            return [line for line in lines if alert.notification_id in json.dumps(line)]
        lines = h.wait_until(file_lines, 10, what="line in the file channel")
        self.assertEqual(len(lines), 1, f"file channel lines for the alert: {lines}")
        with open(s.channel_file) as f:
            self.assertNotIn(national_id, f.read(), "the file channel carries the national id")

        ack = notify.Acknowledge(notify_pb2.AcknowledgeRequest(
            idempotency_key="story-ack", notification_id=alert.notification_id),
            metadata=h.ACTOR, timeout=10)
        self.assertFalse(ack.replayed)
        again = notify.Acknowledge(notify_pb2.AcknowledgeRequest(
            idempotency_key="story-ack", notification_id=alert.notification_id),
            metadata=h.ACTOR, timeout=10)
        self.assertTrue(again.replayed)
        self.assertEqual(again.version, ack.version)
        listed = notify.ListNotifications(notify_pb2.ListNotificationsRequest(
            unit=UNIT, status=notify_state_pb2.ACKNOWLEDGED, page_size=100),
            metadata=h.ACTOR, timeout=5).notifications
        self.assertEqual([n.notification_id for n in listed], [alert.notification_id])
        self.assertEqual(listed[0].acknowledged_by, "system-test")

        # What operations see of the same story on each service's /metrics.
        m = s.metrics("referral")
        self.assertGreaterEqual(m.get('grpc_server_handled_total{grpc_code="OK",'
                                      'grpc_method="SubmitReferral",'
                                      'grpc_service="referral.v1.ReferralService"}', 0), 1, m)
        self.assertGreaterEqual(m.get("pathways_appends_committed_total", 0), 2)
        self.assertGreaterEqual(m.get("pathways_outbox_delivered_total", 0), 2)
        self.assertEqual(m.get("pathways_kafka_reachable"), 1)
        self.assertEqual(m.get("pathways_serving"), 1)
        m = s.metrics("pathway")
        self.assertGreaterEqual(
            m.get('pathways_consumer_applied_total{consumer="referral-policy"}', 0), 2, m)
        self.assertEqual(m.get('pathways_consumer_caught_up{consumer="referral-policy"}'), 1)
        m = s.metrics("notify")
        self.assertGreaterEqual(
            m.get('pathways_consumer_applied_total{consumer="event-reactor"}', 0), 2, m)
        self.assertGreaterEqual(m.get('grpc_server_handled_total{grpc_code="OK",'
                                      'grpc_method="Acknowledge",'
                                      'grpc_service="notify.v1.NotifyService"}', 0), 2, m)


if __name__ == "__main__":
    unittest.main(verbosity=2)
