"""`pathwaysctl notify ...`: list, acknowledge and watch notifications."""

import signal
import sys
import threading

from . import stubs
from .output import enum_name, message_dict, timestamp_text

STATUSES = ("scheduled", "sent", "failed", "cancelled", "acknowledged")
WATCH_CURSOR_HEADER = "x-watch-cursor"


def owner_fields(args):
    return {"recipient_id": args.recipient} if args.recipient else {"unit": args.unit}


def list_notifications(conn, *, recipient="", unit="", status="", page_size=0, page_token="",
                       follow_all=True):
    stubs.load_notify()
    fields = {"recipient_id": recipient} if recipient else {"unit": unit}
    request = stubs.nsvc.ListNotificationsRequest(
        status=stubs.nstate.NotificationStatus.Value(status.upper()) if status else 0,
        page_size=page_size, page_token=page_token, **fields)
    notifications, next_token = [], ""
    for page in conn.pages(conn.notify().ListNotifications, request, follow_all):
        notifications.extend(page.notifications)
        next_token = page.next_page_token
    return notifications, next_token


def about(n):
    """The pathway (or referral) a notification is about. The ids are also in `params`, which
    the notify service always fills."""
    return (n.pathway_id or n.params.get("pathway", "") or n.referral_id
            or n.params.get("referral", ""))


def recipient_text(recipient):
    role = enum_name(stubs.nevents.Recipient.Role, recipient.role).lower()
    return f"{role}:{recipient.id}"


def notification_row(n):
    return [timestamp_text(n, "due_at"), enum_name(stubs.nstate.NotificationStatus, n.status),
            enum_name(stubs.nevents.NotificationKind, n.kind), recipient_text(n.recipient),
            n.unit, n.subject, n.notification_id]


NOTIFICATION_HEADERS = ["DUE", "STATUS", "KIND", "RECIPIENT", "UNIT", "SUBJECT", "NOTIFICATION"]


def cmd_list(args, conn, printer):
    notifications, next_token = list_notifications(
        conn, recipient=args.recipient or "", unit=args.unit or "", status=args.status or "",
        page_size=args.page_size, page_token=args.page_token or "", follow_all=args.all)
    if printer.as_json:
        printer.json({"notifications": [message_dict(n) for n in notifications],
                      "next_page_token": next_token})
        return
    printer.table(NOTIFICATION_HEADERS, [notification_row(n) for n in notifications],
                  empty="(no notifications)")
    if args.verbose:
        for n in notifications:
            printer.line()
            printer.line(f"{n.notification_id}  {n.subject}")
            for body_line in n.body.splitlines():
                printer.line(f"    {body_line}")
    if next_token:
        printer.line(f"more: --page-token {next_token} (or --all)")


def cmd_ack(args, conn, printer):
    response = conn.call(conn.notify().Acknowledge, stubs.nsvc.AcknowledgeRequest(
        idempotency_key=args.idempotency_key, notification_id=args.notification_id))
    if printer.as_json:
        value = message_dict(response)
        value.update(notification_id=args.notification_id, idempotency_key=args.idempotency_key)
        printer.json(value)
        return
    printer.fields([("notification_id", args.notification_id), ("version", response.version),
                    ("replayed", "yes" if response.replayed else "no"),
                    ("idempotency_key", args.idempotency_key)])


def cmd_watch(args, conn, printer):
    import grpc

    request = stubs.nsvc.WatchNotificationsRequest(cursor=args.cursor or "",
                                                   from_beginning=args.from_beginning,
                                                   **owner_fields(args))
    call = conn.stream(conn.notify().WatchNotifications, request)
    stopped_by_us = threading.Event()

    def stop():
        stopped_by_us.set()
        call.cancel()

    # SIGTERM (a supervisor, `timeout`) ends the watch as cleanly as Ctrl-C does.
    previous_term = signal.signal(signal.SIGTERM, lambda *_: stop())
    timer = None
    if args.duration:
        timer = threading.Timer(args.duration, stop)
        timer.daemon = True
        timer.start()
    owner = f"recipient {args.recipient}" if args.recipient else f"unit {args.unit}"
    seen = 0
    try:
        start_cursor = dict(call.initial_metadata()).get(WATCH_CURSOR_HEADER, "")
        if printer.as_json:
            printer.json_line({"watching": owner, "cursor": start_cursor})
        else:
            print(f"watching {owner} from cursor {start_cursor or '(start)'}; Ctrl-C stops",
                  flush=True)
        for update in call:
            seen += 1
            n = update.notification
            if printer.as_json:
                printer.json_line({"cursor": update.cursor, "notification": message_dict(n)})
            else:
                print(f"{timestamp_text(n, 'due_at')}  "
                      f"{enum_name(stubs.nstate.NotificationStatus, n.status):<12}  "
                      f"{enum_name(stubs.nevents.NotificationKind, n.kind):<28}  "
                      f"{recipient_text(n.recipient)}  {n.subject}\n"
                      f"    id {n.notification_id}  cursor {update.cursor}", flush=True)
            if args.count and seen >= args.count:
                stop()
                break
    except KeyboardInterrupt:
        call.cancel()
        print("", file=sys.stderr)
    except grpc.RpcError as e:
        if not (stopped_by_us.is_set() and e.code() == grpc.StatusCode.CANCELLED):
            raise
    finally:
        signal.signal(signal.SIGTERM, previous_term)
        if timer is not None:
            timer.cancel()


def register(subparsers, common, command_options, query_options):
    group = subparsers.add_parser(
        "notify", parents=[common], help="notifications: list, acknowledge, watch",
        description="Notifications of a coordinator (or other recipient) or of a unit's shared "
                    "inbox (notify service).")
    sub = group.add_subparsers(dest="subcommand", metavar="SUBCOMMAND", required=True)

    def owner(p):
        g = p.add_mutually_exclusive_group(required=True)
        g.add_argument("--recipient", help="recipient id, e.g. a coordinator id")
        g.add_argument("--unit", help="a unit's inbox (when no coordinator is assigned)")

    p = sub.add_parser("list", parents=[common, query_options],
                       help="notifications of a recipient or unit, newest due first")
    owner(p)
    p.add_argument("--status", choices=STATUSES, help="default: any")
    p.add_argument("-v", "--verbose", action="store_true", help="also print the message bodies")
    p.set_defaults(handler=cmd_list)

    p = sub.add_parser("ack", parents=[common, command_options],
                       help="acknowledge a sent notification")
    p.add_argument("notification_id")
    p.set_defaults(handler=cmd_ack)

    p = sub.add_parser("watch", parents=[common],
                       help="print changes to notifications as they happen, until Ctrl-C",
                       description="Stream every change to the notifications of a recipient or "
                                   "unit. Each update is printed with its cursor; pass the last "
                                   "cursor to --cursor to resume without gaps or repeats.")
    owner(p)
    p.add_argument("--cursor", help="resume after this cursor")
    p.add_argument("--from-beginning", action="store_true",
                   help="replay the whole feed first (without --cursor)")
    p.add_argument("--count", type=int, default=0, metavar="N", help="stop after N updates")
    p.add_argument("--for", dest="duration", type=float, default=0, metavar="SECONDS",
                   help="stop after this many seconds")
    p.set_defaults(handler=cmd_watch)
