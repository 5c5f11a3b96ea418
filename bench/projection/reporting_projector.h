#pragma once

// The projection the benchmark runs through es::projection::ProjectionConsumer: a
// reporting-style view of pathway events, as a regional reporting team would keep it. Each
// record's value is decoded as pathway.v1.PathwayEvent and gives two rows (plus the consumer's
// own applied-version row):
//
//   rp/<pathway>                                  -> summary: unit, type, setting, start, events
//                                                    so far, last point and its date (read and
//                                                    rewritten by every later event)
//   ru/<unit>/<start yyyymmdd>/<pathway>          -> register code   (PathwayStarted)
//   rpt/<unit>/<point>/<yyyymmdd>/<pathway>       -> register code, days since start, occurrence
//                                                    (PointRecorded)
//   ra/<unit>/<yyyymm>/<pathway>/<version>        -> payload type    (every other event)
//
// Events after the start read the summary row (they do not carry the unit), so the projection
// does one view read per record besides the consumer's own.

#include "libs/projection/projection_consumer.h"

namespace bench {

class ReportingProjector final : public es::projection::Projector {
 public:
  absl::StatusOr<es::projection::Projection> Project(
      const es::projection::ConsumedRecord& record,
      const es::projection::ViewReader& views) override;
};

}  // namespace bench
