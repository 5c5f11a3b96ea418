#pragma once

// EqualsProto: compares messages field by field and prints the difference.

#include <google/protobuf/util/message_differencer.h>

#include <string>

#include "gmock/gmock.h"

namespace es::testing {

template <typename Message>
class EqualsProtoMatcher {
 public:
  using is_gtest_matcher = void;
  explicit EqualsProtoMatcher(Message expected) : expected_(std::move(expected)) {}

  bool MatchAndExplain(const Message& actual, ::testing::MatchResultListener* listener) const {
    std::string diff;
    google::protobuf::util::MessageDifferencer differencer;
    differencer.ReportDifferencesToString(&diff);
    bool equal = differencer.Compare(expected_, actual);
    if (!equal) *listener << "differences:\n" << diff;
    return equal;
  }
  void DescribeTo(std::ostream* os) const { *os << "equals " << expected_.ShortDebugString(); }
  void DescribeNegationTo(std::ostream* os) const {
    *os << "differs from " << expected_.ShortDebugString();
  }

 private:
  Message expected_;
};

template <typename Message>
EqualsProtoMatcher<Message> EqualsProto(Message expected) {
  return EqualsProtoMatcher<Message>(std::move(expected));
}

}  // namespace es::testing
