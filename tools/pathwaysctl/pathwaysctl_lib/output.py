"""Printing: aligned tables and key/value blocks for people, JSON (--json) for scripts."""

import json
import sys

from . import dates


class Printer:
    """Writes either human-readable text or JSON, as chosen by --json."""

    def __init__(self, as_json, out=None):
        self.as_json = as_json
        self.out = out or sys.stdout

    def line(self, text=""):
        if not self.as_json:
            print(text, file=self.out)

    def json(self, value):
        print(json.dumps(value, indent=2, ensure_ascii=False, sort_keys=False), file=self.out)

    def json_line(self, value):
        print(json.dumps(value, ensure_ascii=False), file=self.out, flush=True)

    def table(self, headers, rows, empty="(none)"):
        if self.as_json:
            return
        print_table(headers, rows, self.out, empty)

    def fields(self, pairs):
        if self.as_json:
            return
        print_fields(pairs, self.out)


def print_table(headers, rows, out=None, empty="(none)"):
    out = out or sys.stdout
    rows = [["" if c is None else str(c) for c in row] for row in rows]
    if not rows:
        print(f"  {empty}", file=out)
        return
    widths = [len(h) for h in headers]
    for row in rows:
        for i, cell in enumerate(row):
            widths[i] = max(widths[i], len(cell))
    fmt = "  ".join("{:<%d}" % w for w in widths)
    print(fmt.format(*headers).rstrip(), file=out)
    print("  ".join("-" * w for w in widths), file=out)
    for row in rows:
        print(fmt.format(*row).rstrip(), file=out)


def print_fields(pairs, out=None):
    out = out or sys.stdout
    pairs = [(k, "" if v is None else str(v)) for k, v in pairs]
    width = max((len(k) for k, _ in pairs), default=0)
    for key, value in pairs:
        print(f"{key + ':':<{width + 1}} {value}".rstrip(), file=out)


def message_dict(message):
    """A protobuf message as a JSON-ready dict: proto field names, defaults included."""
    from google.protobuf import json_format

    return json_format.MessageToDict(message, preserving_proto_field_name=True,
                                     including_default_value_fields=True)


def enum_name(enum_type, value, strip_prefix=""):
    try:
        name = enum_type.Name(value)
    except ValueError:
        return str(value)
    if strip_prefix and name.startswith(strip_prefix):
        name = name[len(strip_prefix):]
    return name


def date_text(message, field="date"):
    """A Date field of `message` as YYYY-MM-DD, empty when unset."""
    if not message.HasField(field):
        return ""
    return dates.format_date(getattr(message, field))


def timestamp_text(message, field):
    if not message.HasField(field):
        return ""
    return dates.format_timestamp(getattr(message, field))


def command_result(printer, response, id_field, key, extra=()):
    """The answer to a command: the aggregate id, its version, whether it was a replay."""
    if printer.as_json:
        value = message_dict(response)
        value["idempotency_key"] = key
        for k, v in extra:
            value[k] = v
        printer.json(value)
        return
    printer.fields([(id_field, getattr(response, id_field)), ("version", response.version),
                    ("replayed", "yes" if response.replayed else "no"),
                    ("idempotency_key", key), *extra])
