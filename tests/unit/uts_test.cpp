#include "uts.hpp"

#include <gtest/gtest.h>

namespace {

TEST(UtsNames, Validation) {
  struct Case {
    std::string name;
    bool ok;
  } cases[] = {
      {"lab", true},
      {"a", true},
      {std::string(64, 'x'), true},
      {std::string(65, 'x'), false},
      {"", false},
      {"with-dash.and.dots", true},
  };
  for (const auto& c : cases) EXPECT_EQ(uts::validate_name(c.name).empty(), c.ok) << c.name;
  EXPECT_EQ(uts::validate_name(std::string(65, 'x')),
            "the name is 65 bytes; the kernel allows at most 64");
}

}  // namespace
