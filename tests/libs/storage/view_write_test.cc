#include "libs/storage/view_write.h"

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace es::storage {
namespace {

using ::testing::ElementsAre;
using ::testing::IsEmpty;

TEST(RowChangesTest, GivenSameRows_ThenNothingIsWritten) {
  EXPECT_THAT(RowChanges({{"a", "1"}, {"b", "2"}}, {{"a", "1"}, {"b", "2"}}), IsEmpty());
}

TEST(RowChangesTest, GivenRowsGoneNewAndChanged_ThenDeletesFirstThenPutsInKeyOrder) {
  EXPECT_THAT(RowChanges({{"a", "1"}, {"b", "2"}, {"d", "4"}}, {{"b", "2*"}, {"c", "3"}}),
              ElementsAre(ViewWrite{"a", std::nullopt}, ViewWrite{"d", std::nullopt},
                          ViewWrite{"b", "2*"}, ViewWrite{"c", "3"}));
}

TEST(RowChangesTest, GivenNoRowsBefore_ThenEveryRowIsPut) {
  EXPECT_THAT(RowChanges({}, {{"x", ""}}), ElementsAre(ViewWrite{"x", std::string()}));
}

}  // namespace
}  // namespace es::storage
