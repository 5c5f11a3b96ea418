"""The argument parser and the main loop: global options, dispatch, errors and exit codes."""

import argparse
import sys

from . import connection, demo, notify, output, pathway, referral, stubs
from .connection import EXIT_CODES_HELP, EXIT_OTHER, EXIT_OK, EXIT_USAGE

DESCRIPTION = """\
Command-line client for Pathways: referrals (referral service), pathways and deadlines
(pathway service) and notifications (notify service), over gRPC."""

ENVIRONMENT_HELP = """\
environment:
  PATHWAYS_REFERRAL_ADDR, PATHWAYS_PATHWAY_ADDR, PATHWAYS_NOTIFY_ADDR
                      service addresses (default 127.0.0.1:50061, :50062, :50063)
  PATHWAYS_PYTHON_GEN generated Python stubs (default <repo>/build/python_gen)
  PATHWAYS_TIME_ZONE  zone of dates and times given without one (default Europe/Oslo)

dates: YYYY-MM-DD, today, yesterday, today-N, today+N
times: now, now-2h, now-3d, YYYY-MM-DD (08:00), YYYY-MM-DDTHH:MM[:SS][+01:00]"""


def _global_options(parser, suppress):
    """Adds the global options; `suppress` for the copies on subcommands (so they may follow the
    subcommand without resetting a value given before it)."""
    def default(value):
        return argparse.SUPPRESS if suppress else value

    g = parser.add_argument_group("global options")
    g.add_argument("--referral", metavar="ADDR", default=default(connection.default_address(
        "referral")), help="referral service (env PATHWAYS_REFERRAL_ADDR; default "
                           "127.0.0.1:50061)")
    g.add_argument("--pathway", metavar="ADDR", default=default(connection.default_address(
        "pathway")), help="pathway service (env PATHWAYS_PATHWAY_ADDR; default 127.0.0.1:50062)")
    g.add_argument("--notify", metavar="ADDR", default=default(connection.default_address(
        "notify")), help="notify service (env PATHWAYS_NOTIFY_ADDR; default 127.0.0.1:50063)")
    g.add_argument("--actor", default=default(connection.default_actor()),
                   help="who is acting, sent as x-actor-id (default $USER)")
    g.add_argument("--json", action="store_true", default=default(False),
                   help="print JSON instead of tables")
    g.add_argument("--timeout", type=float, metavar="SECONDS", default=default(20.0),
                   help="per call (default 20)")


def build_parser():
    parser = argparse.ArgumentParser(
        prog="pathwaysctl", description=DESCRIPTION,
        epilog=ENVIRONMENT_HELP + "\n\n" + EXIT_CODES_HELP,
        formatter_class=argparse.RawDescriptionHelpFormatter)
    _global_options(parser, suppress=False)

    common = argparse.ArgumentParser(add_help=False)
    _global_options(common, suppress=True)

    command_options = argparse.ArgumentParser(add_help=False)
    command_options.add_argument(
        "--idempotency-key", metavar="KEY",
        help="retry-safe key (default: a new uuid4; give the same key to retry a command)")

    query_options = argparse.ArgumentParser(add_help=False)
    query_options.add_argument("--page-size", type=int, default=0, metavar="N",
                               help="rows per page (1..500; default: the service's, 50)")
    query_options.add_argument("--page-token", metavar="TOKEN",
                               help="continue from a previous page")
    query_options.add_argument("--all", action="store_true",
                               help="follow next_page_token to the end")

    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for module in (referral, pathway, notify, demo):
        module.register(sub, common, command_options, query_options)
    _add_exit_codes(parser)
    return parser


def _add_exit_codes(parser):
    """Every command's --help ends with the exit codes."""
    for action in parser._actions:  # argparse has no public walk over subcommands
        if isinstance(action, argparse._SubParsersAction):
            for child in action.choices.values():
                child.epilog = (child.epilog + "\n\n" if child.epilog else "") + EXIT_CODES_HELP
                child.formatter_class = argparse.RawDescriptionHelpFormatter
                _add_exit_codes(child)


def error(message):
    print(f"pathwaysctl: {message}", file=sys.stderr)


def main(argv):
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "handler", None):
        parser.print_help(sys.stderr)
        return EXIT_USAGE
    if hasattr(args, "idempotency_key") and not args.idempotency_key:
        args.idempotency_key = connection.new_idempotency_key()
    printer = output.Printer(args.json)
    conn = connection.Connection(
        {"referral": args.referral, "pathway": args.pathway, "notify": args.notify},
        args.actor, args.timeout)
    try:
        stubs.load()
        if args.command in ("notify", "demo"):
            stubs.load_notify()
        import grpc

        try:
            args.handler(args, conn, printer)
        except grpc.RpcError as e:
            code = e.code().name if e.code() is not None else "UNKNOWN"
            error(f"{code}: {e.details()}")
            return connection.exit_code_for(code)
        return EXIT_OK
    except stubs.StubsMissing as e:
        error(str(e))
        return EXIT_OTHER
    except connection.CommandError as e:
        error(f"{e.code}: {e.details}")
        return e.exit_code
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        return EXIT_OK
    finally:
        conn.close()
