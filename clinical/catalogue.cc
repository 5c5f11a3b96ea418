#include "clinical/catalogue.h"

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <optional>
#include <set>
#include <sstream>
#include <utility>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/time/civil_time.h"
#include "google/protobuf/descriptor.h"
#include "google/protobuf/io/tokenizer.h"
#include "google/protobuf/io/zero_copy_stream_impl_lite.h"
#include "google/protobuf/text_format.h"

namespace clinical {

namespace cv1 = ::catalogue::v1;

struct PathwayCatalogue::Data {
  cv1::Catalogue proto;
  // Point into `proto`, which never changes after construction.
  std::map<std::string, const cv1::PathwayType*, std::less<>> types;
  std::map<std::string, Calendar, std::less<>> calendars;
};

namespace {

using google::protobuf::Descriptor;
using google::protobuf::FieldDescriptor;
using google::protobuf::TextFormat;
using google::protobuf::io::Tokenizer;
using ParseInfoTree = TextFormat::ParseInfoTree;

// Enough to fix a file in one go without burying the first error.
constexpr size_t kMaxErrors = 20;

// Calendar tables cover these years; a rule version outside them is a typo.
constexpr int kFirstYear = 1900;
constexpr int kLastYear = 2199;

// One step of a field path: a field and, for a repeated field, the element index (-1 otherwise).
struct Step {
  const FieldDescriptor* field;
  int index;
};
using Path = std::vector<Step>;

template <typename Message>
const FieldDescriptor* F(int number) {
  return Message::descriptor()->FindFieldByNumber(number);
}

Path With(const Path& path, const FieldDescriptor* field, int index = -1) {
  Path out = path;
  out.push_back(Step{field, index});
  return out;
}

std::string PathString(const Path& path) {
  std::string out;
  for (const Step& step : path) {
    if (!out.empty()) out += '.';
    out += step.field->name();
    if (step.index >= 0) absl::StrAppend(&out, "[", step.index, "]");
  }
  return out.empty() ? "(top level)" : out;
}

std::string Quote(const std::string& s) { return absl::StrCat("\"", s, "\""); }

// One file (or in-memory catalogue) before merging.
struct Source {
  std::string origin;
  cv1::Catalogue catalogue;
  std::unique_ptr<ParseInfoTree> tree;  // null when the catalogue was not parsed from text

  // "<origin>:<line>:<column>" of the innermost field on `path` that the text spells out; an
  // absent field (say, a missing day_kind) is thus reported at the message that lacks it.
  std::string Where(const Path& path) const {
    if (tree == nullptr) return origin;
    const ParseInfoTree* node = tree.get();
    int line = -1;
    int column = -1;
    for (size_t i = 0; i < path.size() && node != nullptr; ++i) {
      TextFormat::ParseLocation location = node->GetLocation(path[i].field, path[i].index);
      // A list ("name: [a, b]") records one location for all its elements: use the list's.
      for (int k = path[i].index - 1; location.line < 0 && k >= 0; --k) {
        location = node->GetLocation(path[i].field, k);
      }
      if (location.line < 0) break;
      line = location.line;
      column = location.column;
      if (i + 1 < path.size()) {
        node = path[i].field->message_type() == nullptr
                   ? nullptr
                   : node->GetTreeForNested(path[i].field, path[i].index);
      }
    }
    if (line < 0) return origin;
    return absl::StrCat(origin, ":", line + 1, ":", column + 1);
  }
};

class Errors {
 public:
  void Add(const Source& source, const Path& path, const std::string& problem) {
    ++count_;
    if (lines_.size() < kMaxErrors) {
      lines_.push_back(absl::StrCat(source.Where(path), ": ", PathString(path), ": ", problem));
    }
  }
  bool empty() const { return count_ == 0; }
  size_t count() const { return count_; }
  absl::Status ToStatus() const {
    std::string message = absl::StrJoin(lines_, "\n");
    if (count_ > lines_.size()) {
      absl::StrAppend(&message, "\n... and ", count_ - lines_.size(), " more errors");
    }
    return absl::InvalidArgumentError(message);
  }

 private:
  std::vector<std::string> lines_;
  size_t count_ = 0;
};

// "MM-DD"; 02-29 is allowed (the calendar skips it outside leap years).
std::optional<std::pair<int, int>> ParseMonthDay(const std::string& text) {
  if (text.size() != 5 || text[2] != '-') return std::nullopt;
  for (int i : {0, 1, 3, 4}) {
    if (text[i] < '0' || text[i] > '9') return std::nullopt;
  }
  const int month = (text[0] - '0') * 10 + (text[1] - '0');
  const int day = (text[3] - '0') * 10 + (text[4] - '0');
  if (month < 1 || month > 12 || day < 1) return std::nullopt;
  const absl::CivilDay in_leap_year(2000, month, day);  // normalises an impossible day away
  if (in_leap_year.month() != month || in_leap_year.day() != day) return std::nullopt;
  return std::make_pair(month, day);
}

std::optional<absl::Weekday> ParseWeekday(const std::string& name) {
  static const auto* const kNames = new std::map<std::string, absl::Weekday>{
      {"monday", absl::Weekday::monday},       {"tuesday", absl::Weekday::tuesday},
      {"wednesday", absl::Weekday::wednesday}, {"thursday", absl::Weekday::thursday},
      {"friday", absl::Weekday::friday},       {"saturday", absl::Weekday::saturday},
      {"sunday", absl::Weekday::sunday}};
  auto it = kNames->find(name);
  if (it == kNames->end()) return std::nullopt;
  return it->second;
}

std::optional<absl::CivilDay> ToCivilDay(const eventing::v1::Date& date) {
  if (date.year() < kFirstYear || date.year() > kLastYear) return std::nullopt;
  const absl::CivilDay day(date.year(), date.month(), date.day());
  if (day.year() != date.year() || day.month() != date.month() || day.day() != date.day()) {
    return std::nullopt;
  }
  return day;
}

// Only call on a definition that ValidateCalendar accepted.
CalendarSpec ToSpec(const cv1::CalendarDef& def) {
  CalendarSpec spec;
  spec.id = def.id();
  for (const std::string& text : def.fixed_holidays()) {
    if (auto month_day = ParseMonthDay(text)) spec.fixed_holidays.push_back(*month_day);
  }
  spec.easter_offsets.assign(def.easter_offsets().begin(), def.easter_offsets().end());
  for (const std::string& name : def.non_working_weekdays()) {
    if (auto weekday = ParseWeekday(name)) spec.non_working_weekdays.push_back(*weekday);
  }
  for (const cv1::CalendarDef::RemovedHoliday& removed : def.removed()) {
    spec.removed.push_back({removed.easter_offset(), removed.from_year()});
  }
  return spec;
}

void ValidateCalendar(const Source& source, const cv1::CalendarDef& def, const Path& path,
                      Errors& errors) {
  using Def = cv1::CalendarDef;
  const size_t errors_before = errors.count();
  if (def.id().empty()) errors.Add(source, With(path, F<Def>(Def::kIdFieldNumber)), "is empty");

  std::set<std::pair<int, int>> fixed;
  for (int i = 0; i < def.fixed_holidays_size(); ++i) {
    const Path at = With(path, F<Def>(Def::kFixedHolidaysFieldNumber), i);
    const auto month_day = ParseMonthDay(def.fixed_holidays(i));
    if (!month_day) {
      errors.Add(source, at,
                 absl::StrCat(Quote(def.fixed_holidays(i)), " is not a valid \"MM-DD\""));
    } else if (!fixed.insert(*month_day).second) {
      errors.Add(source, at, absl::StrCat(Quote(def.fixed_holidays(i)), " is listed twice"));
    }
  }
  std::set<int> offsets;
  for (int i = 0; i < def.easter_offsets_size(); ++i) {
    const Path at = With(path, F<Def>(Def::kEasterOffsetsFieldNumber), i);
    const int offset = def.easter_offsets(i);
    if (offset < -80 || offset > 250) {
      errors.Add(source, at, absl::StrCat(offset, " is outside [-80, 250]"));
    } else if (!offsets.insert(offset).second) {
      errors.Add(source, at, absl::StrCat(offset, " is listed twice"));
    }
  }
  std::set<absl::Weekday> weekdays;
  for (int i = 0; i < def.non_working_weekdays_size(); ++i) {
    const Path at = With(path, F<Def>(Def::kNonWorkingWeekdaysFieldNumber), i);
    const auto weekday = ParseWeekday(def.non_working_weekdays(i));
    if (!weekday) {
      errors.Add(source, at,
                 absl::StrCat(Quote(def.non_working_weekdays(i)),
                              " is not a weekday (monday .. sunday, lower case)"));
    } else if (!weekdays.insert(*weekday).second) {
      errors.Add(source, at, absl::StrCat(Quote(def.non_working_weekdays(i)), " is listed twice"));
    }
  }
  if (weekdays.size() == 7) {
    errors.Add(source, With(path, F<Def>(Def::kNonWorkingWeekdaysFieldNumber), 6),
               "every weekday is non-working");
  }
  for (int i = 0; i < def.removed_size(); ++i) {
    const Path at = With(path, F<Def>(Def::kRemovedFieldNumber), i);
    const Def::RemovedHoliday& removed = def.removed(i);
    if (offsets.count(removed.easter_offset()) == 0) {
      errors.Add(source,
                 With(at, F<Def::RemovedHoliday>(Def::RemovedHoliday::kEasterOffsetFieldNumber)),
                 absl::StrCat(removed.easter_offset(), " is not one of the easter_offsets"));
    }
    if (removed.from_year() < kFirstYear || removed.from_year() > kLastYear) {
      errors.Add(source,
                 With(at, F<Def::RemovedHoliday>(Def::RemovedHoliday::kFromYearFieldNumber)),
                 absl::StrCat(removed.from_year(), " is not a year in [", kFirstYear, ", ",
                              kLastYear, "]"));
    }
  }
  if (errors.count() == errors_before) {
    // Calendar::Create has the final word; the checks above only add precise locations.
    absl::StatusOr<Calendar> calendar = Calendar::Create(ToSpec(def));
    if (!calendar.ok()) errors.Add(source, path, std::string(calendar.status().message()));
  }
}

// "" or "name=value", as the deadline engine matches it against a pathway's conditions.
bool ValidCondition(const std::string& condition) {
  if (condition.empty()) return true;
  const size_t eq = condition.find('=');
  return eq != std::string::npos && eq > 0 && eq + 1 < condition.size() &&
         condition.find('=', eq + 1) == std::string::npos;
}

void ValidateVersion(const Source& source, const cv1::RuleVersion& version, const Path& path,
                     Errors& errors) {
  using V = cv1::RuleVersion;
  using P = cv1::MeasurementPoint;
  using D = cv1::DeadlineRule;
  if (version.id().empty()) errors.Add(source, With(path, F<V>(V::kIdFieldNumber)), "is empty");
  if (!version.has_effective_from()) {
    errors.Add(source, With(path, F<V>(V::kEffectiveFromFieldNumber)), "is missing");
  } else if (!ToCivilDay(version.effective_from())) {
    const eventing::v1::Date& d = version.effective_from();
    errors.Add(source, With(path, F<V>(V::kEffectiveFromFieldNumber)),
               absl::StrFormat("%04d-%02d-%02d is not a real date in %d..%d", d.year(), d.month(),
                               d.day(), kFirstYear, kLastYear));
  }

  // Point ids first: order rules and deadline rules may name points listed after them.
  std::set<std::string> point_ids;
  int starts = 0;
  for (int i = 0; i < version.points_size(); ++i) {
    const cv1::MeasurementPoint& point = version.points(i);
    const Path at = With(path, F<V>(V::kPointsFieldNumber), i);
    if (point.id().empty()) {
      errors.Add(source, With(at, F<P>(P::kIdFieldNumber)), "is empty");
    } else if (!point_ids.insert(point.id()).second) {
      errors.Add(source, With(at, F<P>(P::kIdFieldNumber)),
                 absl::StrCat("duplicate point id ", Quote(point.id())));
    }
    // POINT_KIND_UNSPECIFIED is allowed: a coded point with no special meaning to the system
    // (e.g. Danish AFV01A2, AFV01E1); the schema has no other kind for it.
    if (!cv1::PointKind_IsValid(point.kind())) {
      errors.Add(source, With(at, F<P>(P::kKindFieldNumber)),
                 absl::StrCat(point.kind(), " is not a PointKind"));
    }
    if (point.kind() == cv1::START && ++starts == 2) {
      errors.Add(source, With(at, F<P>(P::kKindFieldNumber)),
                 "a second START point (a version has exactly one)");
    }
    if (point.max_occurrences() < 0) {
      errors.Add(source, With(at, F<P>(P::kMaxOccurrencesFieldNumber)),
                 "must be >= 0 (0 = unlimited)");
    }
    std::set<std::string> outcome_codes;
    for (int j = 0; j < point.outcomes_size(); ++j) {
      const Path outcome_at = With(With(at, F<P>(P::kOutcomesFieldNumber), j),
                                   F<cv1::Outcome>(cv1::Outcome::kCodeFieldNumber));
      const std::string& code = point.outcomes(j).code();
      if (code.empty()) {
        errors.Add(source, outcome_at, "is empty");
      } else if (!outcome_codes.insert(code).second) {
        errors.Add(source, outcome_at, absl::StrCat("duplicate outcome code ", Quote(code)));
      }
    }
  }
  if (starts == 0) {
    errors.Add(source, path, "has no point of kind START (a version has exactly one)");
  }
  for (int i = 0; i < version.points_size(); ++i) {
    const cv1::MeasurementPoint& point = version.points(i);
    for (int j = 0; j < point.requires_any_of_size(); ++j) {
      const Path at =
          With(With(path, F<V>(V::kPointsFieldNumber), i), F<P>(P::kRequiresAnyOfFieldNumber), j);
      const std::string& required = point.requires_any_of(j);
      if (point_ids.count(required) == 0) {
        errors.Add(source, at, absl::StrCat(Quote(required), " is not a point of this version"));
      } else if (required == point.id()) {
        errors.Add(source, at, "a point cannot require itself");
      }
    }
  }

  std::set<std::string> rule_ids;
  for (int i = 0; i < version.deadlines_size(); ++i) {
    const cv1::DeadlineRule& rule = version.deadlines(i);
    const Path at = With(path, F<V>(V::kDeadlinesFieldNumber), i);
    if (rule.id().empty()) {
      errors.Add(source, With(at, F<D>(D::kIdFieldNumber)), "is empty");
    } else if (!rule_ids.insert(rule.id()).second) {
      errors.Add(source, With(at, F<D>(D::kIdFieldNumber)),
                 absl::StrCat("duplicate deadline rule id ", Quote(rule.id())));
    }
    if (point_ids.count(rule.from_point()) == 0) {
      errors.Add(source, With(at, F<D>(D::kFromPointFieldNumber)),
                 absl::StrCat(Quote(rule.from_point()), " is not a point of this version"));
    }
    if (point_ids.count(rule.to_point()) == 0) {
      errors.Add(source, With(at, F<D>(D::kToPointFieldNumber)),
                 absl::StrCat(Quote(rule.to_point()), " is not a point of this version"));
    }
    if (rule.days() < 0) {
      errors.Add(source, With(at, F<D>(D::kDaysFieldNumber)),
                 absl::StrCat(rule.days(), " is negative"));
    }
    if (rule.day_kind() == cv1::DAY_KIND_UNSPECIFIED || !cv1::DayKind_IsValid(rule.day_kind())) {
      errors.Add(source, With(at, F<D>(D::kDayKindFieldNumber)),
                 "must be CALENDAR_DAYS or WORKING_DAYS");
    } else if (rule.day_kind() == cv1::WORKING_DAYS && version.calendar().empty()) {
      errors.Add(source, With(at, F<D>(D::kDayKindFieldNumber)),
                 "WORKING_DAYS needs the version's calendar, which is not set");
    }
    if (!cv1::Setting_IsValid(rule.setting())) {
      errors.Add(source, With(at, F<D>(D::kSettingFieldNumber)),
                 absl::StrCat(rule.setting(), " is not a Setting"));
    }
    if (!cv1::Occurrence_IsValid(rule.occurrence())) {
      errors.Add(source, With(at, F<D>(D::kOccurrenceFieldNumber)),
                 absl::StrCat(rule.occurrence(), " is not an Occurrence"));
    }
    if (!ValidCondition(rule.condition())) {
      errors.Add(source, With(at, F<D>(D::kConditionFieldNumber)),
                 absl::StrCat(Quote(rule.condition()), " is not \"name=value\""));
    }
  }

  if (!version.legal_deadline_met_by().empty() &&
      point_ids.count(version.legal_deadline_met_by()) == 0) {
    errors.Add(
        source, With(path, F<V>(V::kLegalDeadlineMetByFieldNumber)),
        absl::StrCat(Quote(version.legal_deadline_met_by()), " is not a point of this version"));
  }
}

void ValidateType(const Source& source, const cv1::PathwayType& type, const Path& path,
                  Errors& errors) {
  using T = cv1::PathwayType;
  if (type.id().empty()) errors.Add(source, With(path, F<T>(T::kIdFieldNumber)), "is empty");
  if (type.versions_size() == 0) {
    errors.Add(source, path, "has no rule version (a type needs at least one)");
  }
  std::set<std::string> version_ids;
  std::map<absl::CivilDay, int> effective_dates;
  for (int i = 0; i < type.versions_size(); ++i) {
    const cv1::RuleVersion& version = type.versions(i);
    const Path at = With(path, F<T>(T::kVersionsFieldNumber), i);
    ValidateVersion(source, version, at, errors);
    if (!version.id().empty() && !version_ids.insert(version.id()).second) {
      errors.Add(source, With(at, F<cv1::RuleVersion>(cv1::RuleVersion::kIdFieldNumber)),
                 absl::StrCat("duplicate version id ", Quote(version.id())));
    }
    if (const auto day = ToCivilDay(version.effective_from())) {
      auto [it, inserted] = effective_dates.emplace(*day, i);
      if (!inserted) {
        errors.Add(source,
                   With(at, F<cv1::RuleVersion>(cv1::RuleVersion::kEffectiveFromFieldNumber)),
                   absl::StrCat("same effective date as versions[", it->second,
                                "]: which one is in force would be ambiguous"));
      }
    }
  }
}

// Checks everything one source can check on its own; the calendars that versions name are
// checked after merging, since a hospital may define them in another file.
void ValidateSource(const Source& source, Errors& errors) {
  using C = cv1::Catalogue;
  std::set<std::string> calendar_ids;
  for (int i = 0; i < source.catalogue.calendars_size(); ++i) {
    const cv1::CalendarDef& def = source.catalogue.calendars(i);
    const Path at = With({}, F<C>(C::kCalendarsFieldNumber), i);
    ValidateCalendar(source, def, at, errors);
    if (!def.id().empty() && !calendar_ids.insert(def.id()).second) {
      errors.Add(source, With(at, F<cv1::CalendarDef>(cv1::CalendarDef::kIdFieldNumber)),
                 absl::StrCat("duplicate calendar id ", Quote(def.id()), " in one file"));
    }
  }
  std::set<std::string> type_ids;
  for (int i = 0; i < source.catalogue.pathway_types_size(); ++i) {
    const cv1::PathwayType& type = source.catalogue.pathway_types(i);
    const Path at = With({}, F<C>(C::kPathwayTypesFieldNumber), i);
    ValidateType(source, type, at, errors);
    if (!type.id().empty() && !type_ids.insert(type.id()).second) {
      errors.Add(source, With(at, F<cv1::PathwayType>(cv1::PathwayType::kIdFieldNumber)),
                 absl::StrCat("duplicate pathway type id ", Quote(type.id()), " in one file"));
    }
  }
}

// Keeps the first error only; the parser stops there anyway.
class FirstErrorCollector : public google::protobuf::io::ErrorCollector {
 public:
  void AddError(int line, google::protobuf::io::ColumnNumber column,
                const std::string& message) override {
    if (has_error_) return;
    has_error_ = true;
    line_ = line;
    column_ = column;
    message_ = message;
  }
  void AddWarning(int, google::protobuf::io::ColumnNumber, const std::string&) override {}

  bool has_error() const { return has_error_; }
  int line() const { return line_; }
  int column() const { return column_; }
  const std::string& message() const { return message_; }

 private:
  bool has_error_ = false;
  int line_ = -1;
  int column_ = -1;
  std::string message_;
};

class SilentErrorCollector : public google::protobuf::io::ErrorCollector {
 public:
  void AddError(int, google::protobuf::io::ColumnNumber, const std::string&) override {}
};

// Where a syntax error is: its 0-based position and the field path there.
struct ErrorSite {
  int line;
  int column;
  std::string path;
};

// Locates a parser error: the field path at (line, column) of a text-format Catalogue, e.g.
// "pathway_types[0].versions[1].deadlines[2].days", rebuilt from the tokens before that point,
// so that a syntax error names its field the way a validation error does. Best effort: the
// text is broken there, so this never fails, it only knows less.
ErrorSite LocateSyntaxError(const std::string& text, int line, int column,
                            const std::string& message) {
  std::vector<Tokenizer::Token> tokens;
  {
    google::protobuf::io::ArrayInputStream input(text.data(), static_cast<int>(text.size()));
    SilentErrorCollector silent;
    Tokenizer tokenizer(&input, &silent);
    tokenizer.set_comment_style(Tokenizer::SH_COMMENT_STYLE);
    while (tokenizer.Next()) {
      const Tokenizer::Token& token = tokenizer.current();
      if (token.line > line || (token.line == line && token.column > column)) break;
      tokens.push_back(token);
    }
  }
  // The parser reports an unknown enum value at the token after the value (often on the next
  // line); move the error back to the value itself.
  const std::string kUnknownEnum = "Unknown enumeration value of \"";
  if (message.rfind(kUnknownEnum, 0) == 0) {
    const size_t end = message.find('"', kUnknownEnum.size());
    const std::string value = message.substr(kUnknownEnum.size(), end - kUnknownEnum.size());
    for (size_t i = tokens.size(); i-- > 0;) {
      if (tokens[i].text != value) continue;
      line = tokens[i].line;
      column = tokens[i].column;
      tokens.resize(i + 1);
      break;
    }
  }

  struct Frame {
    std::string path;
    const Descriptor* type;           // null inside an unknown field
    std::map<std::string, int> seen;  // elements of each repeated field so far
    std::string list;                 // field whose "[ ... ]" list is open, if any
  };
  std::vector<Frame> frames;
  frames.push_back(Frame{"", cv1::Catalogue::descriptor(), {}, ""});
  std::string current;  // the field being read in the innermost frame
  auto is = [&](size_t i, const char* symbol) {
    return i < tokens.size() && tokens[i].text == symbol;
  };
  auto join = [](const std::string& a, const std::string& b) {
    if (a.empty() || b.empty()) return a + b;
    return absl::StrCat(a, ".", b);
  };
  // "name[i]" for the next element of a repeated field, "name" otherwise.
  auto element = [](Frame& frame, const std::string& name) {
    const FieldDescriptor* field =
        frame.type == nullptr ? nullptr : frame.type->FindFieldByName(name);
    if (field != nullptr && field->is_repeated()) {
      return absl::StrCat(name, "[", frame.seen[name]++, "]");
    }
    return name;
  };
  auto push = [&](const std::string& name) {
    Frame& frame = frames.back();
    const FieldDescriptor* field =
        frame.type == nullptr ? nullptr : frame.type->FindFieldByName(name);
    const std::string path = join(frame.path, element(frame, name));
    frames.push_back(Frame{path, field == nullptr ? nullptr : field->message_type(), {}, ""});
    current.clear();
  };

  for (size_t i = 0; i < tokens.size(); ++i) {
    const Tokenizer::Token& token = tokens[i];
    const bool opens = is(i, "{") || is(i, "<");
    if (token.type == Tokenizer::TYPE_IDENTIFIER &&
        (is(i + 1, ":") || is(i + 1, "{") || is(i + 1, "<"))) {
      if (is(i + 1, "{") || is(i + 1, "<")) {
        push(token.text);
        ++i;
      } else if (is(i + 2, "{") || is(i + 2, "<")) {
        push(token.text);
        i += 2;
      } else if (is(i + 2, "[")) {
        frames.back().list = token.text;
        current = token.text;
        i += 2;
      } else {
        current = element(frames.back(), token.text);
        ++i;
      }
    } else if (opens) {
      if (!frames.back().list.empty()) {
        push(frames.back().list);
      } else {
        frames.push_back(Frame{frames.back().path, nullptr, {}, ""});
      }
    } else if (is(i, "}") || is(i, ">")) {
      if (frames.size() > 1) frames.pop_back();
      current.clear();
    } else if (is(i, "]")) {
      frames.back().list.clear();
      current.clear();
    } else if (!frames.back().list.empty() && !is(i, ",") && !is(i, "-")) {
      current = element(frames.back(), frames.back().list);
    }
  }
  const std::string path = join(frames.back().path, current);
  return ErrorSite{line, column, path.empty() ? "(top level)" : path};
}

absl::StatusOr<Source> ParseFile(const std::string& file) {
  std::ifstream in(file, std::ios::binary);
  if (!in.is_open()) return absl::InvalidArgumentError(absl::StrCat(file, ": cannot be opened"));
  std::stringstream buffer;
  buffer << in.rdbuf();
  if (in.bad()) return absl::InvalidArgumentError(absl::StrCat(file, ": cannot be read"));
  const std::string text = buffer.str();

  Source source;
  source.origin = file;
  source.tree = std::make_unique<ParseInfoTree>();
  FirstErrorCollector collector;
  TextFormat::Parser parser;  // unknown fields are errors by default, as they must be here
  parser.RecordErrorsTo(&collector);
  parser.WriteLocationsTo(source.tree.get());
  if (!parser.ParseFromString(text, &source.catalogue)) {
    if (collector.has_error() && collector.line() >= 0) {
      const ErrorSite site =
          LocateSyntaxError(text, collector.line(), collector.column(), collector.message());
      return absl::InvalidArgumentError(absl::StrCat(file, ":", site.line + 1, ":", site.column + 1,
                                                     ": ", site.path, ": ", collector.message()));
    }
    return absl::InvalidArgumentError(absl::StrCat(
        file, ": (top level): ", collector.has_error() ? collector.message() : "cannot parse"));
  }
  return source;
}

// Validates each source, merges them (a later type or calendar with the same id replaces the
// earlier one, keeping its position) and checks the calendars that versions name.
absl::StatusOr<cv1::Catalogue> ValidateAndMerge(std::vector<Source> sources) {
  Errors errors;
  for (const Source& source : sources) ValidateSource(source, errors);
  if (!errors.empty()) return errors.ToStatus();

  // Where each surviving entry lives: (source, index in that source's list).
  using Ref = std::pair<size_t, int>;
  std::vector<Ref> type_refs;
  std::vector<Ref> calendar_refs;
  std::map<std::string, size_t> type_slot;
  std::map<std::string, size_t> calendar_slot;
  for (size_t s = 0; s < sources.size(); ++s) {
    const cv1::Catalogue& catalogue = sources[s].catalogue;
    for (int i = 0; i < catalogue.calendars_size(); ++i) {
      auto [it, inserted] =
          calendar_slot.emplace(catalogue.calendars(i).id(), calendar_refs.size());
      if (inserted) {
        calendar_refs.emplace_back(s, i);
      } else {
        calendar_refs[it->second] = Ref(s, i);
      }
    }
    for (int i = 0; i < catalogue.pathway_types_size(); ++i) {
      auto [it, inserted] = type_slot.emplace(catalogue.pathway_types(i).id(), type_refs.size());
      if (inserted) {
        type_refs.emplace_back(s, i);
      } else {
        type_refs[it->second] = Ref(s, i);
      }
    }
  }

  for (const auto& [s, i] : type_refs) {
    const cv1::PathwayType& type = sources[s].catalogue.pathway_types(i);
    for (int j = 0; j < type.versions_size(); ++j) {
      const std::string& calendar = type.versions(j).calendar();
      if (calendar.empty() || calendar_slot.count(calendar) > 0) continue;
      std::vector<std::string> known;
      for (const auto& [id, slot] : calendar_slot) known.push_back(id);
      const Path path =
          With(With(With({}, F<cv1::Catalogue>(cv1::Catalogue::kPathwayTypesFieldNumber), i),
                    F<cv1::PathwayType>(cv1::PathwayType::kVersionsFieldNumber), j),
               F<cv1::RuleVersion>(cv1::RuleVersion::kCalendarFieldNumber));
      errors.Add(sources[s], path,
                 absl::StrCat(Quote(calendar), " is not a calendar of the catalogue (known: ",
                              known.empty() ? "none" : absl::StrJoin(known, ", "), ")"));
    }
  }
  if (!errors.empty()) return errors.ToStatus();

  cv1::Catalogue merged;
  for (const auto& [s, i] : calendar_refs) {
    *merged.add_calendars() = std::move(*sources[s].catalogue.mutable_calendars(i));
  }
  for (const auto& [s, i] : type_refs) {
    *merged.add_pathway_types() = std::move(*sources[s].catalogue.mutable_pathway_types(i));
  }
  return merged;
}

}  // namespace

PathwayCatalogue::PathwayCatalogue(std::shared_ptr<const Data> data) : data_(std::move(data)) {}

absl::StatusOr<PathwayCatalogue> PathwayCatalogue::FromValidated(cv1::Catalogue merged) {
  auto data = std::make_shared<Data>();
  data->proto = std::move(merged);
  for (const cv1::CalendarDef& def : data->proto.calendars()) {
    absl::StatusOr<Calendar> calendar = Calendar::Create(ToSpec(def));
    if (!calendar.ok()) {  // ValidateCalendar already ran Create on the same definition
      return absl::InternalError(
          absl::StrCat("calendar ", def.id(), ": ", std::string(calendar.status().message())));
    }
    data->calendars.emplace(def.id(), std::move(*calendar));
  }
  for (const cv1::PathwayType& type : data->proto.pathway_types()) {
    data->types.emplace(type.id(), &type);
  }
  return PathwayCatalogue(std::move(data));
}

absl::StatusOr<PathwayCatalogue> PathwayCatalogue::FromProto(cv1::Catalogue catalogue,
                                                             const std::string& origin) {
  std::vector<Source> sources(1);
  sources[0].origin = origin;
  sources[0].catalogue = std::move(catalogue);
  absl::StatusOr<cv1::Catalogue> merged = ValidateAndMerge(std::move(sources));
  if (!merged.ok()) return merged.status();
  return FromValidated(std::move(*merged));
}

absl::StatusOr<PathwayCatalogue> PathwayCatalogue::LoadDirectories(
    const std::vector<std::string>& dirs) {
  namespace fs = std::filesystem;
  std::vector<Source> sources;
  for (const std::string& dir : dirs) {
    std::error_code error;
    if (!fs::is_directory(dir, error)) {
      return absl::NotFoundError(absl::StrCat(dir, ": catalogue directory not found"));
    }
    std::vector<fs::path> files;
    for (fs::directory_iterator it(dir, error), end; !error && it != end; it.increment(error)) {
      std::error_code ignored;  // a dangling entry is simply not a catalogue file
      if (it->path().extension() == ".textproto" && it->is_regular_file(ignored)) {
        files.push_back(it->path());
      }
    }
    if (error) {
      return absl::InvalidArgumentError(
          absl::StrCat(dir, ": cannot list catalogue directory: ", error.message()));
    }
    std::sort(files.begin(), files.end(), [](const fs::path& a, const fs::path& b) {
      return a.filename().string() < b.filename().string();
    });
    for (const fs::path& file : files) {
      absl::StatusOr<Source> source = ParseFile(file.string());
      if (!source.ok()) return source.status();
      sources.push_back(std::move(*source));
    }
  }
  absl::StatusOr<cv1::Catalogue> merged = ValidateAndMerge(std::move(sources));
  if (!merged.ok()) return merged.status();
  return FromValidated(std::move(*merged));
}

const cv1::Catalogue& PathwayCatalogue::proto() const { return data_->proto; }

const cv1::PathwayType* PathwayCatalogue::FindType(std::string_view id) const {
  auto it = data_->types.find(id);
  return it == data_->types.end() ? nullptr : it->second;
}

absl::StatusOr<const cv1::RuleVersion*> PathwayCatalogue::VersionInForce(std::string_view type_id,
                                                                         absl::CivilDay day) const {
  const cv1::PathwayType* type = FindType(type_id);
  if (type == nullptr) {
    return absl::NotFoundError(
        absl::StrCat("pathway type ", std::string(type_id), " is not in the catalogue"));
  }
  const cv1::RuleVersion* best = nullptr;
  absl::CivilDay best_from;
  for (const cv1::RuleVersion& version : type->versions()) {
    const std::optional<absl::CivilDay> from = ToCivilDay(version.effective_from());
    if (!from || *from > day) continue;
    if (best == nullptr || *from > best_from) {
      best = &version;
      best_from = *from;
    }
  }
  if (best == nullptr) {
    return absl::NotFoundError(absl::StrCat("pathway type ", std::string(type_id),
                                            " has no rule version in force on ",
                                            absl::FormatCivilTime(day)));
  }
  return best;
}

const cv1::RuleVersion* PathwayCatalogue::FindVersion(std::string_view type_id,
                                                      std::string_view version_id) const {
  const cv1::PathwayType* type = FindType(type_id);
  if (type == nullptr) return nullptr;
  for (const cv1::RuleVersion& version : type->versions()) {
    if (version.id() == version_id) return &version;
  }
  return nullptr;
}

const Calendar* PathwayCatalogue::FindCalendar(std::string_view id) const {
  auto it = data_->calendars.find(id);
  return it == data_->calendars.end() ? nullptr : &it->second;
}

const cv1::MeasurementPoint* PathwayCatalogue::FindPoint(const cv1::RuleVersion& v,
                                                         std::string_view point_id) {
  for (const cv1::MeasurementPoint& point : v.points()) {
    if (point.id() == point_id) return &point;
  }
  return nullptr;
}

}  // namespace clinical
