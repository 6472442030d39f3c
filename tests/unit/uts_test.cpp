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

TEST(UtsNames, SpelledSoTheyCanBeReadBack) {
  struct Case {
    std::string name, c, shell, hex;
  } cases[] = {
      {"lab", "\"lab\"", "lab", "6c6162"},
      {"a\nb", "\"a\\nb\"", "$'a\\nb'", "610a62"},
      {"tab\there", "\"tab\\there\"", "$'tab\\there'", "7461620968657265"},
      {"error:x", "\"error:x\"", "$'error:x'", "6572726f723a78"},
      {"\xff"
       "1",
       "\"\\3771\"", "$'\\3771'", "ff31"},
      {"q\"'\\", "\"q\\\"'\\\\\"", "$'q\"\\'\\\\'", "7122275c"},
  };
  for (const auto& c : cases) {
    EXPECT_EQ(uts::c_literal(c.name), c.c);
    EXPECT_EQ(uts::shell_word(c.name), c.shell);
    EXPECT_EQ(uts::hex(c.name), c.hex);
  }
}

}  // namespace
