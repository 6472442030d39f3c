// --explain: every kernel step of create and start, labelled with the lesson it comes from and
// the shell command that does the same, told through the project's narrator on stderr (stdout
// belongs to the container). Silent without --explain, as runc is.
#pragma once

#include <iostream>
#include <memory>
#include <string_view>

#include "narrator.hpp"

namespace runtime {

class Explainer {
 public:
  explicit Explainer(bool on)
      : narrator_(std::make_unique<lab::Narrator>(
            "minidocker", on ? lab::OutputMode::human : lab::OutputMode::silent, 0, std::cerr,
            lab::Narrator::colour_wanted(2))) {}
  // `lesson` is "01".."06", "" for a step that is new in the runtime, or the name of the part of
  // final/ whose step it is ("engine", "monitor").
  void step(std::string_view lesson, std::string_view call, std::string_view shell = {}) const {
    std::string label = lesson.empty()                           ? std::string("runtime")
                        : (lesson[0] >= '0' && lesson[0] <= '9') ? "lesson " + std::string(lesson)
                                                                 : std::string(lesson);
    narrator_->labelled_step(label, call, shell);
  }
  void say(std::string_view line) const { narrator_->say(line); }
  bool on() const { return narrator_->mode() == lab::OutputMode::human; }

 private:
  std::unique_ptr<lab::Narrator> narrator_;
};

}  // namespace runtime
