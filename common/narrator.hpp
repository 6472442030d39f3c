// The narrator: how every lesson tells its story.
//
//   [2/4] sethostname("lab")                         ~ hostname lab
//         inside: lab   outside: vm (unchanged)
//   verdict: HELD - the hostname changed inside the namespace only
//
// Numbered steps show the call with its arguments and the shell command that does the same; then
// what was observed. It ends with one verdict line. --json prints the observed facts as one JSON
// object instead, --quiet only the verdict, and the engine (final/) can silence it altogether.
// Colour only on a terminal, never when NO_COLOR is set (https://no-color.org).
#pragma once

#include <nlohmann/json.hpp>
#include <ostream>
#include <string>
#include <string_view>

namespace lab {

enum class OutputMode { human, quiet, json, silent };

class Narrator {
 public:
  Narrator(std::string lesson, OutputMode mode, int total_steps, std::ostream& out, bool colour);
  // The usual narrator: to stdout, colour when stdout is a terminal and NO_COLOR is unset.
  Narrator(std::string lesson, OutputMode mode, int total_steps);

  // A section heading, for lessons with more than one experiment.
  void heading(std::string_view title);
  // The next numbered step: the call as C would write it, and the shell equivalent ("" if none).
  void step(std::string_view call, std::string_view shell = {});
  // An unnumbered step labelled with where it comes from, for the engine's --explain, whose
  // steps come from many lessons: "[lesson 03] pivot_root(".", ".")   ~ pivot_root . .".
  void labelled_step(std::string_view label, std::string_view call, std::string_view shell = {});
  // An observation or explanation under the current step.
  void say(std::string_view line);
  // A fact for --json; the human story says it in words with say().
  void fact(const std::string& key, nlohmann::json value);
  // Prints the verdict (or, with --json, every fact plus "held" and "verdict"). Returns held.
  bool verdict(bool held, std::string_view what);

  OutputMode mode() const { return mode_; }

  // Whether a stream on this fd should get colour: a terminal, and NO_COLOR unset or empty.
  static bool colour_wanted(int fd);

 private:
  std::string paint(std::string_view text, std::string_view sgr) const;
  // "<head><call>   ~ <shell>", the shell command lined up in its column.
  void print_step(std::string_view head, std::string_view call, std::string_view shell);
  bool human() const { return mode_ == OutputMode::human; }

  std::string lesson_;
  OutputMode mode_;
  int total_;
  int step_ = 0;
  std::ostream& out_;
  bool colour_;
  nlohmann::json facts_ = nlohmann::json::object();
};

}  // namespace lab
