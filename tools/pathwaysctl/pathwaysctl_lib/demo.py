"""`pathwaysctl demo`: fills a running system with a realistic week for two units.

An addiction department (TSB, default unit "ahus-tsb") and a municipal clinic (adult mental
health, default "lorenskog-dps") share one pathway coordinator ("coord-kari"). Over the past week
eight referrals arrive: most are assessed with a right to care and a legal deadline, one is
returned, one has no right, two still wait for assessment. The pathway service's referral policy
starts the pathways; the demo records what happened since (first attendance, clinical decision,
treatment plan, appointments with one no-show, a collaboration meeting). One pathway carried over
from five weeks ago had its first attendance four weeks ago and no clinical decision since, so its
21-day deadline has passed and the pathway service's deadline timer records a breach.

Every run uses fresh ids (a run id in referral ids, new national ids, uuid-based idempotency
keys), so running it again adds another week to what is there.
"""

import datetime
import random
import sys
import time
import uuid

from . import dates, notify, output, pathway, referral, stubs
from .connection import EXIT_UNAVAILABLE, CommandError

# --- national ids -----------------------------------------------------------------------------

WEIGHTS_1 = (3, 7, 6, 1, 8, 9, 4, 5, 2)
WEIGHTS_2 = (5, 4, 3, 2, 7, 6, 5, 4, 3, 2)


def _check_digit(digits, weights):
    k = 11 - sum(d * w for d, w in zip(digits, weights)) % 11
    return 0 if k == 11 else k  # 10: no valid number with these digits


def fodselsnummer(birth, individual, synthetic=False):
    """The fødselsnummer for a birth date and individual number, or None when a check digit
    would be 10 (then the next individual number is used). `synthetic` adds 80 to the month
    (Skatteetaten's synthetic test numbers, never issued to a person)."""
    month = birth.month + (80 if synthetic else 0)
    base = f"{birth.day:02d}{month:02d}{birth.year % 100:02d}{individual:03d}"
    digits = [int(c) for c in base]
    k1 = _check_digit(digits, WEIGHTS_1)
    if k1 == 10:
        return None
    k2 = _check_digit(digits + [k1], WEIGHTS_2)
    if k2 == 10:
        return None
    return f"{base}{k1}{k2}"


def is_valid_fodselsnummer(value):
    if len(value) != 11 or not value.isdigit():
        return False
    digits = [int(c) for c in value]
    k1 = _check_digit(digits[:9], WEIGHTS_1)
    k2 = _check_digit(digits[:10], WEIGHTS_2)
    return k1 != 10 and k2 != 10 and digits[9] == k1 and digits[10] == k2


def random_fodselsnummer(rng, synthetic=False, used=None):
    """A valid fødselsnummer of someone born 1940-1999 (individual numbers 000-499 belong to
    births 1900-1999)."""
    used = used if used is not None else set()
    while True:
        birth = datetime.date(1940, 1, 1) + datetime.timedelta(days=rng.randrange(60 * 365))
        start = rng.randrange(500)
        for individual in range(start, 500):
            value = fodselsnummer(birth, individual, synthetic)
            if value is not None and value not in used:
                used.add(value)
                return value


# --- the week ---------------------------------------------------------------------------------

def working_days_ago(n, today=None):
    """The date n working days (Monday-Friday) before today; 0 is today."""
    day = today or dates.today()
    while n > 0:
        day -= datetime.timedelta(days=1)
        if day.weekday() < 5:
            n -= 1
    return day


def working_days_ahead(n, today=None):
    day = today or dates.today()
    while n > 0:
        day += datetime.timedelta(days=1)
        if day.weekday() < 5:
            n -= 1
    return day


def at(day, hhmm):
    hour, minute = (int(x) for x in hhmm.split(":"))
    return datetime.datetime(day.year, day.month, day.day, hour, minute, tzinfo=dates.zone())


def _not_after_now(moment):
    now = dates.now()
    return min(moment, now - datetime.timedelta(minutes=5))


class Demo:
    def __init__(self, conn, printer, args):
        self.conn = conn
        self.printer = printer
        self.args = args
        self.run = uuid.uuid4().hex[:6]
        self.rng = random.Random()
        self.used_ids = set()
        self.today = dates.today()
        self.steps = 0
        self.referrals = []  # dicts: the summary table and the JSON output
        self.log = sys.stderr if printer.as_json else sys.stdout

    # -- small helpers

    def say(self, text):
        print(text, file=self.log, flush=True)

    def key(self, what):
        self.steps += 1
        return f"demo-{self.run}-{self.steps:03d}-{what}-{uuid.uuid4().hex[:8]}"

    def new_patient(self):
        return random_fodselsnummer(self.rng, self.args.synthetic_ids, self.used_ids)

    def check_reachable(self):
        import grpc

        for name in ("referral", "pathway", "notify"):
            address = self.conn.addresses[name]
            channel = grpc.insecure_channel(address)
            try:
                grpc.channel_ready_future(channel).result(timeout=min(self.conn.timeout, 10))
            except grpc.FutureTimeoutError:
                raise CommandError(
                    "UNAVAILABLE", f"the {name} service at {address} is not reachable: is the "
                                   "system running (scripts/run-system.sh)?",
                    EXIT_UNAVAILABLE) from None
            finally:
                channel.close()

    # -- referrals

    def referral(self, n, unit, received, reason, condition, referrer, priority="ordinary",
                 municipal_contact=None, story=""):
        patient_id = self.new_patient()
        referral_id = f"demo-{self.run}-r{n}"
        referral.submit(self.conn, key=self.key("submit"), patient_id=patient_id, unit=unit,
                        reason=reason, priority=priority, received_at=_not_after_now(received),
                        referral_id=referral_id, referrer_name=referrer[0],
                        referrer_organisation=referrer[1], condition=condition,
                        municipal_contact=municipal_contact)
        entry = {"referral_id": referral_id, "unit": unit, "patient_id": patient_id,
                 "received": received.strftime("%Y-%m-%d %H:%M"), "outcome": "awaiting assessment",
                 "pathway_id": "", "story": story}
        self.referrals.append(entry)
        return entry

    def assign(self, entry, when):
        referral.assign_coordinator(
            self.conn, key=self.key("assign"), referral_id=entry["referral_id"],
            coordinator_id=self.args.coordinator, coordinator_name=self.args.coordinator_name,
            assigned_at=_not_after_now(when))

    def assess(self, entry, outcome, when, *, legal_deadline=None, pathway_type="", reason="",
               clinician="dr-lege"):
        assessment = referral.build_assessment(
            outcome, assessed_at=_not_after_now(when), assessed_by=clinician,
            legal_deadline=legal_deadline, pathway_type=pathway_type, reason=reason)
        referral.assess(self.conn, key=self.key("assess"), referral_id=entry["referral_id"],
                        assessment=assessment)
        entry["outcome"] = {
            "right-to-care": f"right to care ({pathway_type}), legal deadline "
                             f"{legal_deadline}",
            "no-right": "no right", "returned": "returned to referrer",
            "forwarded": "forwarded"}[outcome]

    def wait_for_pathways(self, entries, timeout=60):
        """Waits until the pathway service's policy started a pathway for each referral."""
        pending = {e["referral_id"]: e for e in entries}
        deadline = time.time() + timeout
        while pending:
            for referral_id, entry in list(pending.items()):
                for p in pathway.patient_pathways(self.conn, entry["patient_id"]):
                    if p.referral_id == referral_id:
                        entry["pathway_id"] = p.pathway_id
                        entry["pathway"] = p
                        del pending[referral_id]
            if not pending:
                break
            if time.time() > deadline:
                raise CommandError(
                    "DEADLINE_EXCEEDED", "no pathway was started for " + ", ".join(pending)
                    + f" within {timeout} s: is the pathway service consuming referral events?",
                    EXIT_UNAVAILABLE)
            time.sleep(0.3)
        for entry in entries:
            if not entry["pathway"].coordinator_id:
                pathway.assign_coordinator(self.conn, key=self.key("pw-assign"),
                                           pathway_id=entry["pathway_id"],
                                           coordinator_id=self.args.coordinator)

    # -- pathway steps

    def record(self, entry, point, day, outcome=""):
        pathway.record(self.conn, key=self.key(point), pathway_id=entry["pathway_id"],
                       point=point, day=day, outcome=outcome)

    def appointment(self, entry, name, when, kind, attended=None):
        appointment_id = f"appt-{self.run}-{entry['referral_id'].rsplit('-', 1)[1]}-{name}"
        pathway.schedule_appointment(self.conn, key=self.key("appt"),
                                     pathway_id=entry["pathway_id"],
                                     appointment_id=appointment_id, at=when, kind=kind)
        if attended is not None:
            pathway.attendance(self.conn, key=self.key("attend"), pathway_id=entry["pathway_id"],
                               appointment_id=appointment_id, attended=attended)
        return appointment_id

    def meeting(self, entry, when, contact):
        request = stubs.psvc.ScheduleCollaborationMeetingRequest(
            idempotency_key=self.key("meeting"), pathway_id=entry["pathway_id"],
            meeting_id=f"meet-{self.run}-{entry['referral_id'].rsplit('-', 1)[1]}",
            municipal_contact=stubs.revents.MunicipalContact(**contact))
        dates.to_proto_timestamp(when, request.at)
        self.conn.call(self.conn.pathway().ScheduleCollaborationMeeting, request)

    def contact_preference(self, entry, address):
        stubs.load_notify()
        preference = stubs.nstate.ContactPreference(
            consent=True, channel=stubs.nevents.FILE, address=address, language="nb")
        dates.to_proto_timestamp(dates.now(), preference.recorded_at)
        self.conn.call(self.conn.notify().SetContactPreference,
                       stubs.nsvc.SetContactPreferenceRequest(
                           idempotency_key=self.key("consent"),
                           patient=referral.patient(entry["patient_id"]),
                           preference=preference))

    # -- the scenario

    def fill(self):
        a = self.args
        tsb, clinic = a.tsb_unit, a.clinic_unit
        wd = working_days_ago
        today = self.today
        gp1 = ("Dr. Ingrid Berg", "Lørenskog legesenter")
        gp2 = ("Dr. Ahmed Khan", "Strømmen legekontor")
        gp3 = ("Dr. Silje Nilsen", "Fjellhamar legesenter")
        er = ("Lege Jonas Moe", "Legevakten på Lillestrøm")
        municipal = {"name": "Per Hansen", "municipality": "Lørenskog",
                     "phone": "+47 67 93 40 00", "email": "per.hansen@lorenskog.kommune.no"}

        self.say(f"Demo run {self.run}: a week at {tsb} and {clinic}, coordinator "
                 f"{a.coordinator} ({a.coordinator_name})")

        # Carried over: received five weeks ago, first attendance four weeks ago, no clinical
        # decision since -> the 21-day outpatient deadline (TSB) has passed.
        r0 = self.referral(0, tsb, at(wd(28), "10:05"), "Alkoholavhengighet, ønsker behandling",
                           "F10.2", gp1, story="first attendance 4 weeks ago, no clinical "
                                               "decision: 21-day deadline breached")
        # The week.
        r1 = self.referral(1, tsb, at(wd(5), "08:40"),
                           "Økende alkoholbruk, ønsker poliklinisk behandling", "F10.2", gp2,
                           story="attended, clinical decision CT, evaluation booked")
        r2 = self.referral(2, tsb, at(wd(5), "13:20"), "Opioidbruk, nylig overdose",
                           "F11.2", er, priority="urgent",
                           story="urgent; missed first appointment (no-show), new one booked")
        r3 = self.referral(3, tsb, at(wd(4), "11:00"), "Cannabisbruk, uklart omfang", "F12.1",
                           gp3, story="returned: referrer must say more")
        self.referral(4, tsb, at(wd(1), "14:45"), "Alkohol og benzodiazepiner", "F19.2", gp1,
                      story="waiting for assessment")
        r5 = self.referral(5, clinic, at(wd(5), "09:30"),
                           "Moderat depressiv episode, kommunale tjenester i dag", "F32.1", gp1,
                           municipal_contact=municipal,
                           story="attended, treatment plan, decision CP, collaboration meeting")
        r6 = self.referral(6, clinic, at(wd(4), "10:10"), "Generalisert angstlidelse", "F41.1",
                           gp2, story="first appointment booked; patient wants SMS reminders")
        r7 = self.referral(7, clinic, at(wd(3), "15:30"), "Søvnvansker", "F51.0", gp3,
                           story="no right: follow-up by the GP")
        self.referral(8, clinic, dates.now() - datetime.timedelta(minutes=90),
                      "Posttraumatisk stresslidelse", "F43.1", gp2, story="waiting for assessment")
        self.say(f"  submitted {len(self.referrals)} referrals")

        granted = [r0, r1, r2, r5, r6]
        for entry in granted:
            received = datetime.datetime.strptime(entry["received"], "%Y-%m-%d %H:%M").replace(
                tzinfo=dates.zone())
            self.assign(entry, received + datetime.timedelta(hours=2))
        self.say(f"  assigned {a.coordinator} to {len(granted)} referrals")

        self.assess(r0, "right-to-care", at(wd(26), "09:00"), pathway_type="NO_TSB",
                    legal_deadline=today + datetime.timedelta(days=20))
        self.assess(r1, "right-to-care", at(wd(4), "10:30"), pathway_type="NO_TSB",
                    legal_deadline=today + datetime.timedelta(days=28))
        self.assess(r2, "right-to-care", at(wd(4), "14:00"), pathway_type="NO_TSB",
                    legal_deadline=today + datetime.timedelta(days=10))
        self.assess(r3, "returned", at(wd(2), "09:15"),
                    reason="Mangler opplysninger om nåværende rusmiddelbruk og medisinering")
        self.assess(r5, "right-to-care", at(wd(4), "12:00"), pathway_type="NO_VOKSNE",
                    legal_deadline=today + datetime.timedelta(days=21))
        self.assess(r6, "right-to-care", at(wd(2), "13:40"), pathway_type="NO_VOKSNE",
                    legal_deadline=today + datetime.timedelta(days=35))
        self.assess(r7, "no-right", at(wd(1), "11:20"),
                    reason="Kan følges opp av fastlege; ikke behov for spesialisthelsetjeneste")
        self.say("  assessed 7 referrals (5 right to care, 1 returned, 1 no right); 2 wait")

        self.say("  waiting for the pathway service to start the pathways ...")
        self.wait_for_pathways(granted)
        self.say(f"  {len(granted)} pathways started")

        # r0: first attendance four weeks ago, nothing since.
        self.appointment(r0, "first", at(wd(20), "09:00"), "first_attendance", attended=True)
        self.record(r0, "forste_fremmote", wd(20))
        # r1: attended, decided: TSB treatment; first evaluation due within 7 days.
        self.appointment(r1, "first", at(wd(2), "10:00"), "first_attendance", attended=True)
        self.record(r1, "forste_fremmote", wd(2))
        self.record(r1, "klinisk_beslutning", wd(1), "CT")
        self.appointment(r1, "eval", at(working_days_ahead(3), "11:00"), "evaluation")
        # r2: did not come to the first appointment; a new one is booked.
        self.appointment(r2, "first", at(wd(1), "09:30"), "first_attendance", attended=False)
        self.appointment(r2, "first-2", at(working_days_ahead(2), "09:30"), "first_attendance")
        # r5: attended, treatment plan with the patient, decision: mental-health treatment.
        self.appointment(r5, "first", at(wd(3), "12:30"), "first_attendance", attended=True)
        self.record(r5, "forste_fremmote", wd(3))
        self.record(r5, "behandlingsplan_med_pasient", wd(2))
        self.record(r5, "klinisk_beslutning", wd(1), "CP")
        self.meeting(r5, at(working_days_ahead(4), "13:00"), municipal)
        # r6: wants reminders by SMS; first appointment in three working days.
        self.contact_preference(r6, "+4790000000")
        self.appointment(r6, "first", at(working_days_ahead(3), "13:00"), "first_attendance")
        self.say("  recorded points, appointments (one no-show) and a collaboration meeting")
        return r0

    def wait_for_breach(self, entry):
        rule = "tsb.attendance-decision.outpatient"
        wait = self.args.breach_wait
        self.say(f"  waiting up to {wait:.0f} s for the deadline timer to record the breach of "
                 f"{rule} (it runs every 60 s by default; PATHWAYS_TIMER_INTERVAL_SECONDS=5 "
                 "makes it quicker) ...")
        started = time.time()
        next_note = started + 15
        while True:
            p = pathway.get(self.conn, entry["pathway_id"])
            breached = [d for d in p.deadlines if d.rule_id == rule and d.breach_recorded]
            if breached:
                self.say(f"  breach recorded after {time.time() - started:.0f} s "
                         f"(due {dates.format_date(breached[0].due_date)})")
                return p
            if time.time() - started > wait:
                self.say("  the timer has not recorded the breach yet; the worklist shows the "
                         "deadline as OVERDUE until it does")
                return p
            if time.time() > next_note:
                self.say(f"  ... still waiting ({time.time() - started:.0f} s)")
                next_note += 15
            time.sleep(1)

    def wait_for_alerts(self, breach_pathway, timeout=20):
        """Gives the notify service a moment to send the breach and no-show alerts."""
        kinds = {stubs.nevents.NO_SHOW_ALERT}
        if any(d.breach_recorded for d in breach_pathway.deadlines):
            kinds.add(stubs.nevents.BREACH_ALERT)
        run_pathways = {e["pathway_id"] for e in self.referrals if e["pathway_id"]}
        deadline = time.time() + timeout
        while True:
            items, _ = notify.list_notifications(self.conn, recipient=self.args.coordinator,
                                                 page_size=200, follow_all=False)
            delivered = (stubs.nstate.SENT, stubs.nstate.ACKNOWLEDGED)
            seen = {n.kind for n in items
                    if notify.about(n) in run_pathways and n.status in delivered}
            if kinds <= seen or time.time() > deadline:
                return
            time.sleep(0.5)

    def report(self, breach_pathway):
        a = self.args
        printer = self.printer
        worklist_request = pathway.worklist_request(coordinator=a.coordinator)
        entries, today, _ = pathway.worklist(self.conn, worklist_request)
        inboxes = [("coordinator", a.coordinator, {"recipient": a.coordinator}),
                   ("unit", a.tsb_unit, {"unit": a.tsb_unit}),
                   ("unit", a.clinic_unit, {"unit": a.clinic_unit})]
        notifications = []
        for role, owner, fields in inboxes:
            items, _ = notify.list_notifications(self.conn, page_size=max(a.show, 1),
                                                 follow_all=False, **fields)
            notifications.append((role, owner, items))
        assessment = []
        for unit in (a.tsb_unit, a.clinic_unit):
            response = self.conn.call(self.conn.referral().GetAssessmentWorklist,
                                      stubs.rsvc.GetAssessmentWorklistRequest(unit=unit))
            assessment.append((unit, response))

        if printer.as_json:
            printer.json({
                "run": self.run,
                "referrals": [{k: v for k, v in e.items() if k != "pathway"}
                              for e in self.referrals],
                "coordinator_worklist": {
                    "coordinator": a.coordinator,
                    "today": output.message_dict(today) if today is not None else None,
                    "entries": [output.message_dict(e) for e in entries]},
                "assessment_worklists": {unit: output.message_dict(r) for unit, r in assessment},
                "notifications": [{"role": role, "owner": owner,
                                   "notifications": [output.message_dict(n) for n in items]}
                                  for role, owner, items in notifications],
            })
            return

        printer.line()
        printer.line(f"Referrals of run {self.run}")
        printer.table(["REFERRAL", "UNIT", "RECEIVED", "PATIENT", "OUTCOME", "STORY"],
                      [[e["referral_id"], e["unit"], e["received"],
                        e["patient_id"][:6] + "*****", e["outcome"], e["story"]]
                       for e in self.referrals])
        printer.line()
        printer.line(f"Deadlines of the carried-over pathway {breach_pathway.pathway_id}")
        day = dates.today()
        printer.table(["DEADLINE", "FROM -> TO", "DUE", "STATE"],
                      [[pathway.deadline_name(d), f"{d.from_point} -> {d.to_point}",
                        dates.format_date(d.due_date), pathway.deadline_state(d, day)]
                       for d in breach_pathway.deadlines])
        printer.line()
        printer.line(f"Worklist of coordinator {a.coordinator} across {a.tsb_unit} and "
                     f"{a.clinic_unit} (open deadlines), today "
                     f"{dates.format_date(today) if today is not None else '?'}")
        pathway.print_worklist(printer, entries, today)
        for unit, response in assessment:
            printer.line()
            printer.line(f"Assessment worklist of {unit}")
            printer.table(["REFERRAL", "RECEIVED", "DEADLINE", "WORKING DAYS LEFT", "FLAG"],
                          [[i.referral.referral_id,
                            output.timestamp_text(i.referral, "received_at"),
                            output.date_text(i, "assessment_deadline"), i.working_days_left,
                            "OVERDUE" if i.overdue else ""] for i in response.items],
                          empty="(nothing to assess)")
        for role, owner, items in notifications:
            printer.line()
            printer.line(f"Notifications of {role} {owner} (newest due first, at most {a.show})")
            printer.table(notify.NOTIFICATION_HEADERS,
                          [notify.notification_row(n) for n in items],
                          empty="(no notifications)")
        printer.line()
        printer.line("Try: pathwaysctl pathway get " + breach_pathway.pathway_id)
        printer.line(f"     pathwaysctl notify watch --recipient {a.coordinator} "
                     "--from-beginning")


def cmd_demo(args, conn, printer):
    stubs.load_notify()
    demo = Demo(conn, printer, args)
    demo.check_reachable()
    breach_entry = demo.fill()
    breach_pathway = demo.wait_for_breach(breach_entry)
    demo.wait_for_alerts(breach_pathway)
    demo.report(breach_pathway)


def register(subparsers, common, command_options, query_options):
    p = subparsers.add_parser(
        "demo", parents=[common], help="fill a running system with a realistic week",
        description=__doc__.split("\n\n", 1)[1].strip() if __doc__ else None,
        epilog="Run it against a running system (scripts/run-system.sh, or scripts/demo.sh).")
    p.add_argument("--tsb-unit", default="ahus-tsb", help="the addiction department (NO_TSB)")
    p.add_argument("--clinic-unit", default="lorenskog-dps",
                   help="the municipal clinic (NO_VOKSNE)")
    p.add_argument("--coordinator", default="coord-kari", help="the shared coordinator's id")
    p.add_argument("--coordinator-name", default="Kari Nordmann")
    p.add_argument("--breach-wait", type=float, default=75, metavar="SECONDS",
                   help="how long to wait for the deadline timer's breach (default 75)")
    p.add_argument("--show", type=int, default=25, metavar="N",
                   help="notifications shown per inbox (default 25)")
    # Synthetic ids (month + 80) are never issued to a person: a demo must not invent data
    # about someone who exists.
    p.add_argument("--real-format-ids", dest="synthetic_ids", action="store_false",
                   help="use ordinary-format national ids instead of synthetic ones (month + 80)")
    p.set_defaults(synthetic_ids=True)
    p.set_defaults(handler=cmd_demo)
