#include "bench/projection/reporting_projector.h"

#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "libs/eventing/proto_time.h"
#include "pathway/v1/events.pb.h"

namespace bench {
namespace {

using es::projection::Projection;

// The summary row: fields joined by '|' (ids and codes never contain it).
struct Summary {
  std::string unit, type, setting, start, last_point, last_date;
  int64_t events = 0;

  std::string Encode() const {
    return absl::StrCat(unit, "|", type, "|", setting, "|", start, "|", events, "|", last_point,
                        "|", last_date);
  }
  static absl::StatusOr<Summary> Decode(const std::string& text) {
    std::vector<std::string> f = absl::StrSplit(text, '|');
    Summary s;
    if (f.size() != 7 || !absl::SimpleAtoi(f[4], &s.events)) {
      return absl::DataLossError("reporting summary row: malformed");
    }
    s.unit = f[0];
    s.type = f[1];
    s.setting = f[2];
    s.start = f[3];
    s.last_point = f[5];
    s.last_date = f[6];
    return s;
  }
};

std::string Yyyymmdd(const eventing::v1::Date& d) {
  return absl::StrFormat("%04d%02d%02d", d.year(), d.month(), d.day());
}

int64_t DaysBetween(const std::string& from_yyyymmdd, const eventing::v1::Date& to) {
  int y = 0, m = 0, d = 0;
  if (from_yyyymmdd.size() != 8 || !absl::SimpleAtoi(from_yyyymmdd.substr(0, 4), &y) ||
      !absl::SimpleAtoi(from_yyyymmdd.substr(4, 2), &m) ||
      !absl::SimpleAtoi(from_yyyymmdd.substr(6, 2), &d)) {
    return 0;
  }
  return es::FromProtoDate(to) - absl::CivilDay(y, m, d);
}

const char* PayloadName(const pathway::v1::PathwayEvent& event) {
  const auto* field =
      pathway::v1::PathwayEvent::descriptor()->FindFieldByNumber(event.payload_case());
  return field == nullptr ? "unknown" : field->name().c_str();
}

}  // namespace

absl::StatusOr<Projection> ReportingProjector::Project(const es::projection::ConsumedRecord& record,
                                                       const es::projection::ViewReader& views) {
  pathway::v1::PathwayEvent event;
  if (!event.ParseFromString(record.value)) {
    return absl::InvalidArgumentError("not a pathway.v1.PathwayEvent");
  }
  const eventing::v1::EventMetadata& m = event.metadata();
  if (m.stream_id().empty() || m.stream_version() < 1) {
    return absl::InvalidArgumentError("event metadata: stream id and version are required");
  }
  Projection out;
  out.stream_id = m.stream_id();
  out.version = m.stream_version();
  const std::string summary_key = absl::StrCat("rp/", m.stream_id());

  if (event.has_started()) {
    const pathway::v1::PathwayStarted& e = event.started();
    Summary s{.unit = e.unit(),
              .type = e.pathway_type(),
              .setting = catalogue::v1::Setting_Name(e.setting()),
              .start = Yyyymmdd(e.start_date()),
              .last_point = "start",
              .last_date = Yyyymmdd(e.start_date()),
              .events = 1};
    out.writes.push_back({summary_key, s.Encode()});
    out.writes.push_back(
        {absl::StrCat("ru/", e.unit(), "/", s.start, "/", m.stream_id()), e.register_code()});
    return out;
  }

  absl::StatusOr<std::optional<std::string>> row = views.Get(summary_key);
  if (!row.ok()) return row.status();
  if (!row->has_value()) {
    return absl::FailedPreconditionError("event of a pathway whose start was not projected");
  }
  absl::StatusOr<Summary> s = Summary::Decode(**row);
  if (!s.ok()) return s.status();
  ++s->events;
  if (event.has_point_recorded()) {
    const pathway::v1::PointRecorded& e = event.point_recorded();
    s->last_point = e.point_id();
    s->last_date = Yyyymmdd(e.date());
    out.writes.push_back(
        {absl::StrCat("rpt/", s->unit, "/", e.point_id(), "/", s->last_date, "/", m.stream_id()),
         absl::StrCat(e.register_code(), "|", DaysBetween(s->start, e.date()), "|",
                      e.occurrence())});
  } else {
    const absl::CivilDay day =
        absl::ToCivilDay(es::FromProtoTimestamp(m.occurred_at()), absl::UTCTimeZone());
    out.writes.push_back({absl::StrFormat("ra/%s/%04d%02d/%s/%d", s->unit, day.year(), day.month(),
                                          m.stream_id(), m.stream_version()),
                          PayloadName(event)});
  }
  out.writes.push_back({summary_key, s->Encode()});
  return out;
}

}  // namespace bench
