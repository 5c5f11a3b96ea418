"""`pathwaysctl referral ...`: intake, assessment and the assessment worklist."""

import argparse

from . import dates, output, stubs
from .output import date_text, enum_name, message_dict, timestamp_text

ID_SYSTEMS = {"fnr": "NO_FODSELSNUMMER", "dnr": "NO_D_NUMBER", "cpr": "DK_CPR"}
PRIORITIES = {"ordinary": "PRIORITY_ORDINARY", "urgent": "PRIORITY_URGENT"}
STATUSES = {"received": "RECEIVED", "right-to-care": "RIGHT_TO_CARE", "no-right": "NO_RIGHT",
            "forwarded": "FORWARDED", "returned": "RETURNED", "withdrawn": "WITHDRAWN"}


def patient(value, system="fnr"):
    """A referral.v1.PatientIdentifier from the command line's id and system."""
    ident = stubs.revents.PatientIdentifier
    return ident(system=ident.System.Value(ID_SYSTEMS[system]), value=value)


def mask(patient_identifier):
    """A national id shortened for tables: the birth date part only."""
    value = patient_identifier.value
    return value[:6] + "*" * (len(value) - 6) if len(value) > 6 else value


def assessment_text(assessment):
    which = assessment.WhichOneof("outcome")
    if which == "right_to_care":
        r = assessment.right_to_care
        return f"right to care, legal deadline {date_text(r, 'legal_deadline')}" + (
            f", pathway {r.pathway_type}" if r.pathway_type else "")
    if which == "no_right":
        return f"no right: {assessment.no_right.reason}"
    if which == "forwarded":
        return f"forwarded to {assessment.forwarded.to_unit}: {assessment.forwarded.reason}"
    if which == "returned":
        return f"returned: {assessment.returned.reason}"
    return ""


# --- commands -------------------------------------------------------------------------------

def submit(conn, *, key, patient_id, unit, reason, system="fnr", priority="ordinary",
           received_at=None, referral_id="", referrer_name="", referrer_organisation="",
           referrer_hpr="", condition="", municipal_contact=None):
    """SubmitReferral; returns the CommandResponse. Used by the CLI and the demo."""
    request = stubs.rsvc.SubmitReferralRequest(
        idempotency_key=key, referral_id=referral_id, patient=patient(patient_id, system),
        referrer=stubs.revents.Referrer(name=referrer_name, organisation=referrer_organisation,
                                        hpr_number=referrer_hpr),
        receiving_unit=unit, reason=reason, suspected_condition=condition,
        priority=stubs.revents.Priority.Value(PRIORITIES[priority]))
    dates.to_proto_timestamp(received_at or dates.now(), request.received_at)
    if municipal_contact:
        request.municipal_contact.CopyFrom(stubs.revents.MunicipalContact(**municipal_contact))
    return conn.call(conn.referral().SubmitReferral, request)


def build_assessment(outcome, *, assessed_at=None, assessed_by="", legal_deadline=None,
                     pathway_type="", reason="", to_unit=""):
    a = stubs.revents.Assessment(assessed_by=assessed_by)
    dates.to_proto_timestamp(assessed_at or dates.now(), a.assessed_at)
    if outcome == "right-to-care":
        a.right_to_care.pathway_type = pathway_type
        if legal_deadline is not None:
            dates.to_proto_date(legal_deadline, a.right_to_care.legal_deadline)
        else:
            a.right_to_care.SetInParent()
    elif outcome == "no-right":
        a.no_right.reason = reason
    elif outcome == "forwarded":
        a.forwarded.to_unit = to_unit
        a.forwarded.reason = reason
    elif outcome == "returned":
        a.returned.reason = reason
    return a


def assess(conn, *, key, referral_id, assessment, expected_version=0):
    return conn.call(conn.referral().AssessReferral, stubs.rsvc.AssessReferralRequest(
        idempotency_key=key, referral_id=referral_id, assessment=assessment,
        expected_version=expected_version))


def assign_coordinator(conn, *, key, referral_id, coordinator_id, coordinator_name="",
                       assigned_at=None, expected_version=0):
    request = stubs.rsvc.AssignCoordinatorRequest(
        idempotency_key=key, referral_id=referral_id, coordinator_id=coordinator_id,
        coordinator_name=coordinator_name, expected_version=expected_version)
    dates.to_proto_timestamp(assigned_at or dates.now(), request.assigned_at)
    return conn.call(conn.referral().AssignCoordinator, request)


def cmd_submit(args, conn, printer):
    key = args.idempotency_key
    contact = None
    if args.municipal_contact or args.municipality:
        contact = dict(name=args.municipal_contact or "", municipality=args.municipality or "",
                       phone=args.municipal_phone or "", email=args.municipal_email or "")
    response = submit(conn, key=key, patient_id=args.patient_id, system=args.system,
                      unit=args.unit, reason=args.reason, priority=args.priority,
                      received_at=args.received, referral_id=args.referral_id or "",
                      referrer_name=args.referrer_name or "",
                      referrer_organisation=args.referrer_organisation or "",
                      referrer_hpr=args.referrer_hpr or "", condition=args.condition or "",
                      municipal_contact=contact)
    output.command_result(printer, response, "referral_id", key)


def cmd_assess(args, conn, printer):
    parser = args.command_parser
    outcomes = [name for name, given in (("right-to-care", args.right_to_care),
                                         ("no-right", args.no_right),
                                         ("forwarded", args.forwarded_to is not None),
                                         ("returned", args.returned)) if given]
    if len(outcomes) != 1:
        parser.error("give exactly one outcome: --right-to-care, --no-right, --forwarded-to UNIT "
                     "or --returned")
    outcome = outcomes[0]
    if outcome == "right-to-care" and args.legal_deadline is None:
        parser.error("--right-to-care needs --legal-deadline")
    if outcome != "right-to-care" and (args.legal_deadline or args.pathway_type):
        parser.error("--legal-deadline and --pathway-type belong to --right-to-care")
    if outcome in ("no-right", "returned", "forwarded") and not args.reason:
        parser.error(f"--{outcome} needs --reason")
    assessment = build_assessment(
        outcome, assessed_at=args.assessed_at, assessed_by=args.assessed_by or conn.actor,
        legal_deadline=args.legal_deadline, pathway_type=args.pathway_type or "",
        reason=args.reason or "", to_unit=args.forwarded_to or "")
    response = assess(conn, key=args.idempotency_key, referral_id=args.referral_id,
                      assessment=assessment, expected_version=args.expected_version)
    output.command_result(printer, response, "referral_id", args.idempotency_key)


def cmd_assign(args, conn, printer):
    response = assign_coordinator(conn, key=args.idempotency_key, referral_id=args.referral_id,
                                  coordinator_id=args.coordinator,
                                  coordinator_name=args.name or "",
                                  expected_version=args.expected_version)
    output.command_result(printer, response, "referral_id", args.idempotency_key)


def cmd_withdraw(args, conn, printer):
    request = stubs.rsvc.WithdrawReferralRequest(
        idempotency_key=args.idempotency_key, referral_id=args.referral_id, reason=args.reason,
        expected_version=args.expected_version)
    dates.to_proto_timestamp(dates.now(), request.withdrawn_at)
    response = conn.call(conn.referral().WithdrawReferral, request)
    output.command_result(printer, response, "referral_id", args.idempotency_key)


def cmd_get(args, conn, printer):
    r = conn.call(conn.referral().GetReferral,
                  stubs.rsvc.GetReferralRequest(referral_id=args.referral_id))
    if printer.as_json:
        printer.json(message_dict(r))
        return
    system = enum_name(stubs.revents.PatientIdentifier.System, r.patient.system)
    referrer = ", ".join(x for x in (r.referrer.name, r.referrer.organisation,
                                     r.referrer.hpr_number and f"HPR {r.referrer.hpr_number}")
                         if x)
    pairs = [("referral_id", r.referral_id),
             ("status", enum_name(stubs.rstate.ReferralStatus, r.status)),
             ("patient", f"{r.patient.value} ({system})"),
             ("unit", r.receiving_unit),
             ("received", timestamp_text(r, "received_at")),
             ("priority", enum_name(stubs.revents.Priority, r.priority, "PRIORITY_")),
             ("referrer", referrer),
             ("reason", r.reason),
             ("suspected condition", r.suspected_condition),
             ("assessment deadline", date_text(r, "assessment_deadline"))]
    if r.HasField("municipal_contact"):
        c = r.municipal_contact
        pairs.append(("municipal contact", ", ".join(x for x in (c.name, c.municipality,
                                                                 c.phone, c.email) if x)))
    if r.HasField("assessment"):
        pairs += [("assessment", assessment_text(r.assessment)),
                  ("assessed", f"{timestamp_text(r.assessment, 'assessed_at')} by "
                               f"{r.assessment.assessed_by or '?'}"
                               f" ({'on time' if r.assessed_on_time else 'late'})")]
        if r.correction_count:
            pairs.append(("corrections", r.correction_count))
    if r.coordinator_id:
        pairs.append(("coordinator", f"{r.coordinator_id}"
                                     + (f" ({r.coordinator_name})" if r.coordinator_name else "")))
    if r.withdrawal_reason:
        pairs.append(("withdrawn", r.withdrawal_reason))
    pairs.append(("version", r.version))
    printer.fields(pairs)


def cmd_list(args, conn, printer):
    request = stubs.rsvc.ListReferralsRequest(
        unit=args.unit, status=stubs.rstate.ReferralStatus.Value(STATUSES[args.status]),
        page_size=args.page_size, page_token=args.page_token or "")
    referrals, next_token = [], ""
    for page in conn.pages(conn.referral().ListReferrals, request, args.all):
        referrals.extend(page.referrals)
        next_token = page.next_page_token
    if printer.as_json:
        printer.json({"referrals": [message_dict(r) for r in referrals],
                      "next_page_token": next_token})
        return
    printer.table(
        ["REFERRAL", "RECEIVED", "PATIENT", "PRIORITY", "ASSESS BY", "ASSESSMENT", "COORDINATOR"],
        [[r.referral_id, timestamp_text(r, "received_at"), mask(r.patient),
          enum_name(stubs.revents.Priority, r.priority, "PRIORITY_").lower(),
          date_text(r, "assessment_deadline"), assessment_text(r.assessment),
          r.coordinator_id] for r in referrals])
    if next_token:
        printer.line(f"more: --page-token {next_token} (or --all)")


def cmd_worklist(args, conn, printer):
    request = stubs.rsvc.GetAssessmentWorklistRequest(
        unit=args.unit, page_size=args.page_size, page_token=args.page_token or "")
    if args.as_of:
        dates.to_proto_timestamp(args.as_of, request.as_of)
    items, next_token, as_of = [], "", None
    for page in conn.pages(conn.referral().GetAssessmentWorklist, request, args.all):
        items.extend(page.items)
        next_token = page.next_page_token
        as_of = page.as_of_date
    if printer.as_json:
        printer.json({"items": [message_dict(i) for i in items], "next_page_token": next_token,
                      "as_of_date": message_dict(as_of) if as_of is not None else None})
        return
    printer.line(f"Assessment worklist of {args.unit} as of "
                 f"{dates.format_date(as_of) if as_of is not None else '?'}")
    printer.table(
        ["REFERRAL", "RECEIVED", "PATIENT", "PRIORITY", "DEADLINE", "WORKING DAYS LEFT", "FLAG"],
        [[i.referral.referral_id, timestamp_text(i.referral, "received_at"),
          mask(i.referral.patient),
          enum_name(stubs.revents.Priority, i.referral.priority, "PRIORITY_").lower(),
          date_text(i, "assessment_deadline"), i.working_days_left,
          "OVERDUE" if i.overdue else ""] for i in items],
        empty="(nothing to assess)")
    if next_token:
        printer.line(f"more: --page-token {next_token} (or --all)")


# --- argument parsing -------------------------------------------------------------------------

def register(subparsers, common, command_options, query_options):
    group = subparsers.add_parser(
        "referral", parents=[common], help="referral intake, assessment, worklist",
        description="Referrals: submit, assess, read, list and the 10-working-day assessment "
                    "worklist (referral service).")
    sub = group.add_subparsers(dest="subcommand", metavar="SUBCOMMAND", required=True)

    p = sub.add_parser("submit", parents=[common, command_options],
                       help="submit a referral received by a unit",
                       description="Submit a referral. Prints the referral id and version.")
    p.add_argument("--patient-id", required=True, help="national id (digits)")
    p.add_argument("--system", choices=sorted(ID_SYSTEMS), default="fnr",
                   help="id system: fnr (fødselsnummer, default), dnr (D-number), cpr (Danish)")
    p.add_argument("--unit", required=True, help="receiving unit id, e.g. ahus-tsb")
    p.add_argument("--reason", required=True, help="reason for referral (free text)")
    p.add_argument("--priority", choices=sorted(PRIORITIES), default="ordinary")
    p.add_argument("--received", type=dates.parse_time, default=None, metavar="TIME",
                   help="when the unit received it (default now; e.g. 2025-03-03T09:15, now-2d)")
    p.add_argument("--referral-id", help="referral id (default: derived from the idempotency key)")
    p.add_argument("--referrer-name", default="", help="referring professional's name")
    p.add_argument("--referrer-organisation", default="", help="e.g. the GP practice")
    p.add_argument("--referrer-hpr", default="", help="referrer's HPR number")
    p.add_argument("--condition", help="suspected condition (ICD-10), e.g. F10.2")
    p.add_argument("--municipal-contact", help="municipal coordinator's name")
    p.add_argument("--municipality")
    p.add_argument("--municipal-phone")
    p.add_argument("--municipal-email")
    p.set_defaults(handler=cmd_submit)

    p = sub.add_parser(
        "assess", parents=[common, command_options], help="record the assessment of a referral",
        description="Assess a referral: right to care (with a legal deadline and usually a "
                    "pathway type, which lets the pathway service start the pathway), no right, "
                    "forwarded or returned.",
        epilog="examples:\n  pathwaysctl referral assess R1 --right-to-care --legal-deadline "
               "today+30 --pathway-type NO_TSB\n  pathwaysctl referral assess R2 --returned "
               "--reason 'missing medication list'",
        formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("referral_id")
    outcome = p.add_argument_group("outcome (exactly one)")
    outcome.add_argument("--right-to-care", action="store_true",
                         help="right to necessary health care")
    outcome.add_argument("--no-right", action="store_true", help="no right (needs --reason)")
    outcome.add_argument("--forwarded-to", metavar="UNIT", help="forwarded to another unit")
    outcome.add_argument("--returned", action="store_true",
                         help="returned to the referrer (needs --reason)")
    p.add_argument("--legal-deadline", type=dates.parse_date, metavar="DATE",
                   help="juridisk frist for --right-to-care (YYYY-MM-DD, today+N)")
    p.add_argument("--pathway-type", help="catalogue pathway type for --right-to-care, e.g. "
                                          "NO_TSB, NO_VOKSNE")
    p.add_argument("--reason", help="reason (no right, forwarded, returned)")
    p.add_argument("--assessed-at", type=dates.parse_time, metavar="TIME", help="default now")
    p.add_argument("--assessed-by", help="clinician id (default: --actor)")
    p.add_argument("--expected-version", type=int, default=0, metavar="N",
                   help="optimistic check: fail with ABORTED unless the referral is at version N")
    p.set_defaults(handler=cmd_assess, command_parser=p)

    p = sub.add_parser("assign-coordinator", parents=[common, command_options],
                       help="assign the pathway coordinator",
                       description="Assign the pathway coordinator (forløpskoordinator); the "
                                   "pathway started from this referral follows.")
    p.add_argument("referral_id")
    p.add_argument("--coordinator", required=True, help="coordinator id, e.g. coord-kari")
    p.add_argument("--name", help="coordinator's name")
    p.add_argument("--expected-version", type=int, default=0, metavar="N",
                   help="optimistic check: fail with ABORTED unless the referral is at version N")
    p.set_defaults(handler=cmd_assign)

    p = sub.add_parser("withdraw", parents=[common, command_options], help="withdraw a referral")
    p.add_argument("referral_id")
    p.add_argument("--reason", required=True)
    p.add_argument("--expected-version", type=int, default=0, metavar="N",
                   help="optimistic check: fail with ABORTED unless the referral is at version N")
    p.set_defaults(handler=cmd_withdraw)

    p = sub.add_parser("get", parents=[common], help="show one referral")
    p.add_argument("referral_id")
    p.set_defaults(handler=cmd_get)

    p = sub.add_parser("list", parents=[common, query_options],
                       help="referrals of a unit with a status, newest first")
    p.add_argument("--unit", required=True)
    p.add_argument("--status", choices=list(STATUSES), default="received",
                   help="default: received")
    p.set_defaults(handler=cmd_list)

    p = sub.add_parser("worklist", parents=[common, query_options],
                       help="unassessed referrals: deadline, working days left, OVERDUE",
                       description="The unit's assessment worklist: unassessed referrals, "
                                   "earliest 10-working-day deadline first, overdue ones flagged.")
    p.add_argument("--unit", required=True)
    p.add_argument("--as-of", type=dates.parse_time, metavar="TIME",
                   help="decides 'overdue' (default now)")
    p.set_defaults(handler=cmd_worklist)
