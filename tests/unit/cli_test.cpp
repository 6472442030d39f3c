// lab::whole_number and the CLI11 option built on it: numbers as a person types them, in decimal,
// and nothing else.
#include "cli.hpp"

#include <gtest/gtest.h>

#include <optional>
#include <string>
#include <vector>

namespace {

TEST(WholeNumber, TakesPlainDecimalOnly) {
  struct Case {
    std::string text;
    std::optional<long long> want;
  };
  const std::vector<Case> cases = {
      {"20000", 20000},
      {"0", 0},
      {"020000", 20000},  // decimal with a leading zero, not octal 8192
      {"9223372036854775807", 9223372036854775807LL},
      {"", std::nullopt},
      {"-5", std::nullopt},
      {"+5", std::nullopt},
      {" 20000", std::nullopt},
      {"20000 ", std::nullopt},
      {"1e4", std::nullopt},
      {"0x5000", std::nullopt},
      {"20000abc", std::nullopt},
      {"1.5", std::nullopt},
      {"1_000", std::nullopt},
      {"9223372036854775808", std::nullopt},  // one above the largest long long
      {"99999999999999999999999", std::nullopt},
  };
  for (const auto& c : cases) EXPECT_EQ(lab::whole_number(c.text), c.want) << "'" << c.text << "'";
}

// The option as a lesson declares it: refused values give CLI11's error with our words; accepted
// ones reach the variable as the decimal number, whatever CLI11's own conversion would make of
// the text (strtoll with base 0 reads "020000" as octal).
TEST(WholeNumber, OptionRefusesAndNormalises) {
  struct Case {
    std::string text;
    long long want;     // when accepted
    std::string error;  // part of the message when refused
  };
  const std::vector<Case> cases = {
      {"20000", 20000, ""},
      {"020000", 20000, ""},
      {"1e4", 0, "not a whole number of microseconds: '1e4'"},
      {"0x5000", 0, "not a whole number of microseconds: '0x5000'"},
      {"20000abc", 0, "not a whole number of microseconds: '20000abc'"},
      {"", 0, "not a whole number of microseconds: ''"},
      {"-5", 0, "not a whole number of microseconds: '-5'"},
      {"500", 0, "below 1000"},
  };
  for (const auto& c : cases) {
    CLI::App app{"test", "test"};
    long long value = -1;
    app.add_option("--quota-us", value)
        ->transform(lab::whole_number_option(
            [](long long v) { return v < 1000 ? std::string("below 1000") : std::string(); },
            "microseconds"));
    std::vector<std::string> args = {c.text, "--quota-us"};  // CLI11 parses a reversed vector
    if (c.error.empty()) {
      app.parse(args);
      EXPECT_EQ(value, c.want) << c.text;
    } else {
      try {
        app.parse(args);
        ADD_FAILURE() << "'" << c.text << "' was accepted as " << value;
      } catch (const CLI::ParseError& e) {
        EXPECT_NE(std::string(e.what()).find(c.error), std::string::npos) << e.what();
      }
    }
  }
}

}  // namespace
