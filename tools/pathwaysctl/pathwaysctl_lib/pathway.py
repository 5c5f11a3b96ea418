"""`pathwaysctl pathway ...`: pathways, measurement points, appointments and worklists."""

import argparse

from . import dates, output, referral, stubs
from .output import date_text, enum_name, message_dict, timestamp_text

SETTINGS = {"outpatient": "OUTPATIENT", "inpatient": "INPATIENT"}
FILTERS = {"open": "ALL_OPEN", "due-within": "DUE_WITHIN", "breached": "BREACHED"}


# --- calls used by the CLI and the demo -------------------------------------------------------

def start(conn, *, key, pathway_type, unit, patient_id, system="fnr", setting="outpatient",
          start_date=None, legal_deadline=None, coordinator_id="", referral_id="", pathway_id="",
          conditions=None):
    request = stubs.psvc.StartPathwayRequest(
        idempotency_key=key, pathway_id=pathway_id, pathway_type=pathway_type, unit=unit,
        patient=referral.patient(patient_id, system),
        setting=stubs.cat.Setting.Value(SETTINGS[setting]), coordinator_id=coordinator_id,
        referral_id=referral_id)
    for k, v in (conditions or {}).items():
        request.conditions[k] = v
    dates.to_proto_date(start_date or dates.today(), request.start_date)
    if legal_deadline is not None:
        dates.to_proto_date(legal_deadline, request.legal_deadline)
    return conn.call(conn.pathway().StartPathway, request)


def record(conn, *, key, pathway_id, point, day, outcome="", expected_version=0):
    request = stubs.psvc.RecordPointRequest(idempotency_key=key, pathway_id=pathway_id,
                                            point_id=point, outcome=outcome,
                                            expected_version=expected_version)
    dates.to_proto_date(day, request.date)
    return conn.call(conn.pathway().RecordPoint, request)


def schedule_appointment(conn, *, key, pathway_id, appointment_id, at, kind=""):
    request = stubs.psvc.ScheduleAppointmentRequest(
        idempotency_key=key, pathway_id=pathway_id, appointment_id=appointment_id, kind=kind)
    dates.to_proto_timestamp(at, request.at)
    return conn.call(conn.pathway().ScheduleAppointment, request)


def attendance(conn, *, key, pathway_id, appointment_id, attended):
    return conn.call(conn.pathway().RecordAttendance, stubs.psvc.RecordAttendanceRequest(
        idempotency_key=key, pathway_id=pathway_id, appointment_id=appointment_id,
        attended=attended))


def assign_coordinator(conn, *, key, pathway_id, coordinator_id):
    return conn.call(conn.pathway().AssignCoordinator, stubs.psvc.AssignPathwayCoordinatorRequest(
        idempotency_key=key, pathway_id=pathway_id, coordinator_id=coordinator_id))


def get(conn, pathway_id):
    return conn.call(conn.pathway().GetPathway, stubs.psvc.GetPathwayRequest(pathway_id=pathway_id))


def patient_pathways(conn, patient_id, system="fnr"):
    return conn.call(conn.pathway().ListPatientPathways, stubs.psvc.ListPatientPathwaysRequest(
        patient=referral.patient(patient_id, system))).pathways


def worklist_request(*, unit="", coordinator="", filter_name="open", within=0, due_from=None,
                     due_to=None, as_of=None, page_size=0, page_token=""):
    request = stubs.psvc.GetWorklistRequest(
        filter=stubs.psvc.WorklistFilter.Value(FILTERS[filter_name]),
        within_working_days=within, page_size=page_size, page_token=page_token)
    if unit:
        request.unit = unit
    else:
        request.coordinator_id = coordinator
    if due_from is not None:
        dates.to_proto_date(due_from, request.due_from)
    if due_to is not None:
        dates.to_proto_date(due_to, request.due_to)
    if as_of is not None:
        dates.to_proto_timestamp(as_of, request.as_of)
    return request


def worklist(conn, request, follow_all=True):
    """Every entry (following the pages) and the service's `today`."""
    entries, today, next_token = [], None, ""
    for page in conn.pages(conn.pathway().GetWorklist, request, follow_all):
        entries.extend(page.entries)
        today = page.today
        next_token = page.next_page_token
    return entries, today, next_token


# --- rendering ------------------------------------------------------------------------------

def deadline_name(entry):
    if entry.kind == stubs.pstate.LEGAL:
        return "legal deadline (juridisk frist)"
    return entry.rule_id


def deadline_state(entry, today):
    """BREACHED (recorded), OVERDUE (past due, not yet recorded), DUE TODAY or empty."""
    status = enum_name(stubs.pstate.DeadlineStatus, entry.status)
    if status != "OPEN":
        return status.replace("_", " ").lower()
    if entry.breach_recorded:
        return "BREACHED" + (" (patient)" if entry.attributed_to_patient else "")
    due = dates.from_proto_date(entry.due_date)
    if today is not None and due < today:
        return "OVERDUE"
    if today is not None and due == today:
        return "DUE TODAY"
    return "open"


def print_worklist(printer, entries, today):
    today_day = dates.from_proto_date(today) if today is not None and today.year else None
    rows = []
    for e in entries:
        due = dates.from_proto_date(e.due_date)
        days_left = (due - today_day).days if today_day else ""
        rows.append([dates.format_date(e.due_date), days_left, deadline_state(e, today_day),
                     deadline_name(e), f"{e.from_point} -> {e.to_point}", e.unit,
                     e.coordinator_id, e.pathway_type, e.pathway_id])
    printer.table(["DUE", "DAYS LEFT", "STATE", "DEADLINE", "FROM -> TO", "UNIT", "COORDINATOR",
                   "TYPE", "PATHWAY"], rows, empty="(no deadlines)")


def pathway_rows(pathways):
    return [[p.pathway_id, p.pathway_type, p.unit,
             enum_name(stubs.pstate.PathwayStatus, p.status).lower(),
             date_text(p, "start_date"), p.coordinator_id, p.referral_id] for p in pathways]


PATHWAY_HEADERS = ["PATHWAY", "TYPE", "UNIT", "STATUS", "START", "COORDINATOR", "REFERRAL"]


# --- commands -------------------------------------------------------------------------------

def _result(printer, response, key):
    output.command_result(printer, response, "pathway_id", key)


def cmd_start(args, conn, printer):
    conditions = {}
    for item in args.condition or []:
        if "=" not in item:
            args.command_parser.error(f"--condition {item!r}: expected KEY=VALUE")
        k, v = item.split("=", 1)
        conditions[k] = v
    response = start(conn, key=args.idempotency_key, pathway_type=args.type, unit=args.unit,
                     patient_id=args.patient_id, system=args.system, setting=args.setting,
                     start_date=args.start_date, legal_deadline=args.legal_deadline,
                     coordinator_id=args.coordinator or "", referral_id=args.referral_id or "",
                     pathway_id=args.pathway_id or "", conditions=conditions)
    _result(printer, response, args.idempotency_key)


def cmd_record(args, conn, printer):
    response = record(conn, key=args.idempotency_key, pathway_id=args.pathway_id,
                      point=args.point, day=args.date, outcome=args.outcome or "",
                      expected_version=args.expected_version)
    _result(printer, response, args.idempotency_key)


def cmd_correct(args, conn, printer):
    request = stubs.psvc.CorrectPointRequest(
        idempotency_key=args.idempotency_key, pathway_id=args.pathway_id,
        corrects_event_id=args.event, outcome=args.outcome or "", reason=args.reason,
        expected_version=args.expected_version)
    if args.date is not None:
        dates.to_proto_date(args.date, request.date)
    else:  # keep the entry's date
        current = get(conn, args.pathway_id)
        entry = next((e for e in current.timeline if e.event_id == args.event), None)
        if entry is None or not entry.HasField("date"):
            args.command_parser.error(f"--date is required (event {args.event} not found in "
                                      "the timeline)")
        request.date.CopyFrom(entry.date)
    response = conn.call(conn.pathway().CorrectPoint, request)
    _result(printer, response, args.idempotency_key)


def cmd_schedule(args, conn, printer):
    response = schedule_appointment(conn, key=args.idempotency_key, pathway_id=args.pathway_id,
                                    appointment_id=args.appointment, at=args.at,
                                    kind=args.kind or "")
    _result(printer, response, args.idempotency_key)


def cmd_attended(args, conn, printer):
    response = attendance(conn, key=args.idempotency_key, pathway_id=args.pathway_id,
                          appointment_id=args.appointment, attended=True)
    _result(printer, response, args.idempotency_key)


def cmd_missed(args, conn, printer):
    response = attendance(conn, key=args.idempotency_key, pathway_id=args.pathway_id,
                          appointment_id=args.appointment, attended=False)
    _result(printer, response, args.idempotency_key)


def cmd_end(args, conn, printer):
    request = stubs.psvc.EndPathwayRequest(idempotency_key=args.idempotency_key,
                                           pathway_id=args.pathway_id, reason=args.reason)
    dates.to_proto_date(args.date, request.date)
    response = conn.call(conn.pathway().EndPathway, request)
    _result(printer, response, args.idempotency_key)


def cmd_assign(args, conn, printer):
    response = assign_coordinator(conn, key=args.idempotency_key, pathway_id=args.pathway_id,
                                  coordinator_id=args.coordinator)
    _result(printer, response, args.idempotency_key)


def cmd_get(args, conn, printer):
    p = get(conn, args.pathway_id)
    if printer.as_json:
        printer.json(message_dict(p))
        return
    print_pathway(printer, p)


def print_pathway(printer, p):
    pairs = [("pathway_id", p.pathway_id),
             ("status", enum_name(stubs.pstate.PathwayStatus, p.status)),
             ("type", f"{p.pathway_type} ({p.register_type_code}), rules {p.rule_version}"),
             ("unit", p.unit),
             ("patient", f"{p.patient.value}"),
             ("setting", enum_name(stubs.cat.Setting, p.setting).lower()),
             ("start", date_text(p, "start_date")),
             ("coordinator", p.coordinator_id or "(none)"),
             ("referral", p.referral_id or "(none)"),
             ("missed appointments", p.missed_appointments)]
    if p.conditions:
        pairs.append(("conditions", ", ".join(f"{k}={v}" for k, v in sorted(p.conditions.items()))))
    if p.end_reason:
        pairs.append(("ended", f"{date_text(p, 'end_date')} ({p.end_reason})"))
    if p.transferred_to:
        pairs.append(("transferred to", p.transferred_to))
    pairs.append(("version", p.version))
    printer.fields(pairs)
    printer.line()
    printer.line("Timeline")
    rows = []
    for e in p.timeline:
        note = []
        if e.superseded:
            note.append("superseded")
        if e.corrects_event_id:
            note.append(f"corrects {e.corrects_event_id}")
        rows.append([e.version, date_text(e, "date"), e.what, e.point_id, e.outcome,
                     e.register_code, e.detail, "; ".join(note), e.event_id])
    printer.table(["V", "DATE", "WHAT", "POINT", "OUTCOME", "CODE", "DETAIL", "NOTE", "EVENT"],
                  rows)
    printer.line()
    printer.line("Deadlines")
    today = dates.today()
    rows = []
    for d in p.deadlines:
        flags = []
        if d.breach_recorded:
            flags.append(f"breach recorded {date_text(d, 'breached_on')}")
        if d.attributed_to_patient:
            flags.append("patient-postponed")
        if d.rule_unconfirmed:
            flags.append("rule unconfirmed")
        rows.append([deadline_name(d), f"{d.from_point} -> {d.to_point}",
                     date_text(d, "opened_on"), date_text(d, "due_date"),
                     deadline_state(d, today), date_text(d, "closed_on"), "; ".join(flags)])
    printer.table(["DEADLINE", "FROM -> TO", "OPENED", "DUE", "STATE", "CLOSED", "NOTE"], rows)
    if p.appointments:
        printer.line()
        printer.line("Appointments")
        printer.table(["APPOINTMENT", "AT", "KIND", "STATUS"],
                      [[a.appointment_id, timestamp_text(a, "at"), a.kind, a.status]
                       for a in p.appointments])


def cmd_worklist(args, conn, printer):
    filter_name, within = parse_filter(args.filter, args.command_parser)
    request = worklist_request(unit=args.unit or "", coordinator=args.coordinator or "",
                               filter_name=filter_name, within=within, due_from=args.due_from,
                               due_to=args.due_to, as_of=args.as_of, page_size=args.page_size,
                               page_token=args.page_token or "")
    entries, today, next_token = worklist(conn, request, args.all)
    if printer.as_json:
        printer.json({"entries": [message_dict(e) for e in entries],
                      "next_page_token": next_token,
                      "today": message_dict(today) if today is not None else None})
        return
    owner = f"unit {args.unit}" if args.unit else f"coordinator {args.coordinator}"
    printer.line(f"Worklist of {owner} ({' '.join(args.filter)}), today "
                 f"{dates.format_date(today) if today is not None else '?'}")
    print_worklist(printer, entries, today)
    if next_token:
        printer.line(f"more: --page-token {next_token} (or --all)")


def parse_filter(words, parser):
    name = words[0]
    if name not in FILTERS:
        parser.error(f"--filter: {name!r} is not one of open, due-within N, breached")
    if name == "due-within":
        if len(words) != 2 or not words[1].isdigit():
            parser.error("--filter due-within needs a number of working days, e.g. "
                         "--filter due-within 5")
        return name, int(words[1])
    if len(words) != 1:
        parser.error(f"--filter {name} takes no number")
    return name, 0


def cmd_breaches(args, conn, printer):
    request = stubs.psvc.ListBreachesRequest(unit=args.unit, page_size=args.page_size,
                                             page_token=args.page_token or "")
    dates.to_proto_date(args.date_from, getattr(request, "from"))
    dates.to_proto_date(args.date_to, request.to)
    entries, next_token = [], ""
    for page in conn.pages(conn.pathway().ListBreaches, request, args.all):
        entries.extend(page.entries)
        next_token = page.next_page_token
    if printer.as_json:
        printer.json({"entries": [message_dict(e) for e in entries],
                      "next_page_token": next_token})
        return
    printer.line(f"Breaches of {args.unit} from {args.date_from} to {args.date_to}")
    printer.table(["DUE", "STATUS", "DEADLINE", "FROM -> TO", "PATIENT-POSTPONED", "CLOSED",
                   "COORDINATOR", "TYPE", "PATHWAY"],
                  [[date_text(e, "due_date"),
                    enum_name(stubs.pstate.DeadlineStatus, e.status).lower(), deadline_name(e),
                    f"{e.from_point} -> {e.to_point}", "yes" if e.attributed_to_patient else "",
                    date_text(e, "closed_on"), e.coordinator_id, e.pathway_type, e.pathway_id]
                   for e in entries], empty="(no breaches)")
    if next_token:
        printer.line(f"more: --page-token {next_token} (or --all)")


def cmd_patient(args, conn, printer):
    pathways = patient_pathways(conn, args.id, args.system)
    if printer.as_json:
        printer.json({"pathways": [message_dict(p) for p in pathways]})
        return
    printer.table(PATHWAY_HEADERS, pathway_rows(pathways), empty="(no pathways)")


# --- argument parsing -------------------------------------------------------------------------

def register(subparsers, common, command_options, query_options):
    group = subparsers.add_parser(
        "pathway", parents=[common], help="pathways, points, appointments, worklists",
        description="Pathways: start, record and correct measurement points, appointments, "
                    "end; read a pathway, worklists, breaches (pathway service).")
    sub = group.add_subparsers(dest="subcommand", metavar="SUBCOMMAND", required=True)

    p = sub.add_parser("start", parents=[common, command_options],
                       help="start a pathway explicitly",
                       description="Start a pathway by hand. Pathways are normally started by "
                                   "the pathway service when a referral is assessed with a "
                                   "right to care and a pathway type.")
    p.add_argument("--type", required=True, help="catalogue pathway type, e.g. NO_TSB")
    p.add_argument("--unit", required=True)
    p.add_argument("--patient-id", required=True)
    p.add_argument("--system", choices=sorted(referral.ID_SYSTEMS), default="fnr")
    p.add_argument("--setting", choices=sorted(SETTINGS), default="outpatient")
    p.add_argument("--start-date", type=dates.parse_date, metavar="DATE", help="default today")
    p.add_argument("--legal-deadline", type=dates.parse_date, metavar="DATE")
    p.add_argument("--coordinator")
    p.add_argument("--referral-id")
    p.add_argument("--pathway-id", help="default: derived from the idempotency key")
    p.add_argument("--condition", action="append", metavar="KEY=VALUE",
                   help="condition for conditional rules (repeatable), e.g. severity=severe")
    p.set_defaults(handler=cmd_start, command_parser=p)

    p = sub.add_parser("record", parents=[common, command_options],
                       help="record a measurement point",
                       description="Record a measurement point. Points and outcomes are the "
                                   "catalogue's (catalogue/*.textproto), e.g. forste_fremmote, "
                                   "klinisk_beslutning --outcome CT, behandlingsplan_med_pasient, "
                                   "evaluering, pasientutsatt.")
    p.add_argument("pathway_id")
    p.add_argument("--point", required=True, help="catalogue point id")
    p.add_argument("--outcome", help="outcome code, for points with outcomes (e.g. CU, CT)")
    p.add_argument("--date", type=dates.parse_date, default="today", metavar="DATE",
                   help="the day it happened (default today)")
    p.add_argument("--expected-version", type=int, default=0, metavar="N",
                   help="optimistic check: fail with ABORTED unless the pathway is at version N")
    p.set_defaults(handler=cmd_record)

    p = sub.add_parser("correct", parents=[common, command_options],
                       help="correct a recorded point (date and/or outcome)",
                       description="Correct a timeline entry; the original stays in the "
                                   "timeline, marked superseded. Event ids: `pathway get`.")
    p.add_argument("pathway_id")
    p.add_argument("--event", required=True, help="event id of the entry to correct")
    p.add_argument("--date", type=dates.parse_date, metavar="DATE",
                   help="corrected date (default: unchanged)")
    p.add_argument("--outcome", help="corrected outcome")
    p.add_argument("--reason", required=True)
    p.add_argument("--expected-version", type=int, default=0, metavar="N",
                   help="optimistic check: fail with ABORTED unless the pathway is at version N")
    p.set_defaults(handler=cmd_correct, command_parser=p)

    p = sub.add_parser("appointment", parents=[common], help="schedule appointments, record "
                                                             "attendance or no-shows")
    asub = p.add_subparsers(dest="appointment_command", metavar="ACTION", required=True)
    a = asub.add_parser("schedule", parents=[common, command_options],
                        help="schedule an appointment")
    a.add_argument("pathway_id")
    a.add_argument("--appointment", required=True, help="appointment id (from the EHR)")
    a.add_argument("--at", required=True, type=dates.parse_time, metavar="TIME",
                   help="e.g. 2025-03-10T10:00, now+2d")
    a.add_argument("--kind", help="e.g. first_attendance, treatment, evaluation")
    a.set_defaults(handler=cmd_schedule)
    for name, handler, text in (("attended", cmd_attended, "the patient attended"),
                                ("missed", cmd_missed, "the patient did not attend (no-show)")):
        a = asub.add_parser(name, parents=[common, command_options], help=text)
        a.add_argument("pathway_id")
        a.add_argument("--appointment", required=True)
        a.set_defaults(handler=handler)

    p = sub.add_parser("assign-coordinator", parents=[common, command_options],
                       help="assign the pathway's coordinator")
    p.add_argument("pathway_id")
    p.add_argument("--coordinator", required=True)
    p.set_defaults(handler=cmd_assign)

    p = sub.add_parser("end", parents=[common, command_options], help="end a pathway")
    p.add_argument("pathway_id")
    p.add_argument("--reason", required=True,
                   help="end reason code from the catalogue, e.g. gjennomfort, annen_arsak")
    p.add_argument("--date", type=dates.parse_date, default="today", metavar="DATE")
    p.set_defaults(handler=cmd_end)

    p = sub.add_parser("get", parents=[common],
                       help="one pathway: timeline, deadlines, appointments")
    p.add_argument("pathway_id")
    p.set_defaults(handler=cmd_get)

    p = sub.add_parser(
        "worklist", parents=[common, query_options],
        help="open deadlines of a unit or of a coordinator (across units)",
        description="Open deadlines, earliest first, of a unit or of a coordinator across every "
                    "unit the coordinator serves.",
        epilog="examples:\n  pathwaysctl pathway worklist --coordinator coord-kari\n"
               "  pathwaysctl pathway worklist --unit ahus-tsb --filter due-within 5\n"
               "  pathwaysctl pathway worklist --unit ahus-tsb --filter breached",
        formatter_class=argparse.RawDescriptionHelpFormatter)
    owner = p.add_mutually_exclusive_group(required=True)
    owner.add_argument("--unit")
    owner.add_argument("--coordinator")
    p.add_argument("--filter", nargs="+", default=["open"], metavar="WORD",
                   help="open (default) | due-within N (working days) | breached")
    p.add_argument("--from", dest="due_from", type=dates.parse_date, metavar="DATE",
                   help="due on or after (open filter)")
    p.add_argument("--to", dest="due_to", type=dates.parse_date, metavar="DATE",
                   help="due on or before (open filter)")
    p.add_argument("--as-of", type=dates.parse_time, metavar="TIME", help="decides 'today'")
    p.set_defaults(handler=cmd_worklist, command_parser=p)

    p = sub.add_parser("breaches", parents=[common, query_options],
                       help="breached deadlines of a unit in a date range")
    p.add_argument("--unit", required=True)
    p.add_argument("--from", dest="date_from", type=dates.parse_date, default="today-90",
                   metavar="DATE", help="breach date from (default today-90)")
    p.add_argument("--to", dest="date_to", type=dates.parse_date, default="today", metavar="DATE",
                   help="breach date to (default today)")
    p.set_defaults(handler=cmd_breaches)

    p = sub.add_parser("patient", parents=[common], help="a patient's pathways")
    p.add_argument("--id", required=True, help="national id")
    p.add_argument("--system", choices=sorted(referral.ID_SYSTEMS), default="fnr")
    p.set_defaults(handler=cmd_patient)
