"""Dates and times on the command line: civil dates in the units' zone, timestamps.

Accepted dates: YYYY-MM-DD, `today`, `yesterday`, `tomorrow`, `today-N` / `today+N` (days).
Accepted times: `now`, ISO 8601 with or without an offset (without one: the units' zone), or a
date alone (08:00 that day), each also as `now-Nd` / `now-Nh` for relative values.
The zone is PATHWAYS_TIME_ZONE (default Europe/Oslo), as in the services.
"""

import argparse
import datetime
import os
import re
from zoneinfo import ZoneInfo


def zone():
    return ZoneInfo(os.environ.get("PATHWAYS_TIME_ZONE") or "Europe/Oslo")


def today():
    return datetime.datetime.now(zone()).date()


def now():
    return datetime.datetime.now(zone())


_RELATIVE_DAY = re.compile(r"^today\s*([+-])\s*(\d+)d?$")
_RELATIVE_TIME = re.compile(r"^now\s*([+-])\s*(\d+)([dhm])$")


def parse_date(text):
    """A civil date; raises argparse.ArgumentTypeError with the accepted forms."""
    t = text.strip().lower()
    base = today()
    if t == "today":
        return base
    if t == "yesterday":
        return base - datetime.timedelta(days=1)
    if t == "tomorrow":
        return base + datetime.timedelta(days=1)
    m = _RELATIVE_DAY.match(t)
    if m:
        days = int(m.group(2))
        return base + datetime.timedelta(days=days if m.group(1) == "+" else -days)
    try:
        return datetime.date.fromisoformat(t)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"{text!r} is not a date (YYYY-MM-DD, today, yesterday, today-N)") from None


def parse_time(text):
    """An aware datetime; naive input is in the units' zone."""
    t = text.strip()
    low = t.lower()
    if low == "now":
        return now()
    m = _RELATIVE_TIME.match(low)
    if m:
        amount = int(m.group(2))
        unit = {"d": "days", "h": "hours", "m": "minutes"}[m.group(3)]
        delta = datetime.timedelta(**{unit: amount})
        return now() + (delta if m.group(1) == "+" else -delta)
    try:
        if len(t) == 10:
            day = parse_date(t)
            return datetime.datetime(day.year, day.month, day.day, 8, 0, tzinfo=zone())
        value = datetime.datetime.fromisoformat(t.replace("Z", "+00:00"))
    except (ValueError, argparse.ArgumentTypeError):
        raise argparse.ArgumentTypeError(
            f"{text!r} is not a time (now, now-2h, now-3d, YYYY-MM-DD, YYYY-MM-DDTHH:MM[+01:00])"
        ) from None
    if value.tzinfo is None:
        value = value.replace(tzinfo=zone())
    return value


def to_proto_date(day, message=None):
    from . import stubs

    message = message if message is not None else stubs.types.Date()
    message.year, message.month, message.day = day.year, day.month, day.day
    return message


def to_proto_timestamp(moment, message=None):
    from google.protobuf import timestamp_pb2

    message = message if message is not None else timestamp_pb2.Timestamp()
    message.FromDatetime(moment.astimezone(datetime.timezone.utc).replace(tzinfo=None))
    return message


def from_proto_date(d):
    return datetime.date(d.year, d.month, d.day)


def format_date(d):
    if d.year == 0:
        return ""
    return f"{d.year:04d}-{d.month:02d}-{d.day:02d}"


def format_timestamp(ts):
    moment = datetime.datetime.fromtimestamp(ts.seconds + ts.nanos / 1e9, zone())
    return moment.strftime("%Y-%m-%d %H:%M")
