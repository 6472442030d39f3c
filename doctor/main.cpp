// make doctor: can this machine run the lessons? Every check prints OK, WARN or FAIL with what
// it saw, and for each problem the exact fix. The lessons call the same checks (common/host.hpp)
// and stop early with the same words.
//
// It also lists what killed lessons left behind (common/leftovers.hpp: lab-* cgroups, /tmp/lab-*
// directories, lab links, named netns and firewall rules, saved sysctls). Leftovers are a WARN:
// the lessons can run, but a stale lab0 or lab-* cgroup makes their results harder to read.
// `doctor --clean` removes exactly those, and nothing that does not carry a lab name.

#include <fmt/format.h>

#include <vector>

#include "cli.hpp"
#include "host.hpp"
#include "leftovers.hpp"

namespace {

nlohmann::json to_json(const lab::leftovers::Leftover& l) {
  return {{"kind", l.kind}, {"name", l.name}, {"what", l.what}, {"remove", l.remove}};
}

void print_leftover(const lab::leftovers::Leftover& l) {
  fmt::print("      - {} {}: {}\n", l.kind, l.name, l.what);
  fmt::print("        removed by: {}\n", l.remove);
}

// doctor --clean: removes the leftovers, says what went, and exits 0 only when none is left.
int clean(bool json) {
  auto result = lab::leftovers::clean();
  auto remaining = lab::leftovers::find();
  if (json) {
    nlohmann::json removed = nlohmann::json::array(), failed = nlohmann::json::array(),
                   left = nlohmann::json::array();
    for (const auto& l : result.removed) removed.push_back(to_json(l));
    for (const auto& f : result.failed) {
      failed.push_back(to_json(f.leftover));
      failed.back()["error"] = f.error;
    }
    for (const auto& l : remaining) left.push_back(to_json(l));
    fmt::print(
        "{}\n",
        nlohmann::json{{"removed", removed}, {"failed", failed}, {"remaining", left}}.dump());
  } else {
    for (const auto& l : result.removed) fmt::print("removed {} {} ({})\n", l.kind, l.name, l.what);
    for (const auto& f : result.failed)
      fmt::print("FAILED  {} {}: {}\n", f.leftover.kind, f.leftover.name, f.error);
    for (const auto& l : remaining) fmt::print("still there: {} {}: {}\n", l.kind, l.name, l.what);
    fmt::print("{}\n", remaining.empty()
                           ? fmt::format("doctor --clean: removed {} leftover(s); nothing left",
                                         result.removed.size())
                           : fmt::format("doctor --clean: {} leftover(s) could not be removed",
                                         remaining.size()));
  }
  return remaining.empty() && result.failed.empty() ? 0 : 1;
}

}  // namespace

int main(int argc, char** argv) {
  lab::OutputOptions output;
  bool clean_leftovers = false;
  std::string rootfs = lab::host::default_rootfs();
  CLI::App app{"Checks that this machine can run the lessons, and says how to fix what is missing.",
               "doctor"};
  app.add_option("--rootfs", rootfs, "the busybox rootfs the lessons use")->capture_default_str();
  app.add_flag("--json", output.json, "print the checks as a JSON array");
  app.add_flag("--clean", clean_leftovers,
               "remove what killed lessons left behind (lab-* cgroups, /tmp/lab-* dirs, lab0 and "
               "lab-* links, lab-* named netns, lab iptables rules and LAB-* chains, saved "
               "sysctls) and nothing else");
  if (int code = lab::parse_command_line(app, argc, argv); code >= 0) return code;

  return lab::run_guarded("doctor", [&] {
    if (clean_leftovers) {
      lab::host::require_root("doctor/doctor --clean");
      return clean(output.json);
    }
    using lab::host::Status;
    std::vector<lab::host::Check> checks = {
        lab::host::check_root(),
        lab::host::check_environment(),
        lab::host::check_cgroups(),
        lab::host::check_overlay(),
        lab::host::check_root_propagation(),
        lab::host::check_user_namespaces(),
        lab::host::check_rootfs(rootfs),
        lab::host::check_temp_dir_exec(),
        lab::host::check_bridge_subnet(),
        lab::host::check_command("unshare", "util-linux"),
        lab::host::check_command("nsenter", "util-linux"),
        lab::host::check_command("ip", "iproute2"),
        lab::host::check_command("iptables", "iptables"),
        lab::host::check_command("busybox", "busybox-static"),
    };
    auto leftovers = lab::leftovers::find();
    if (leftovers.empty())
      checks.push_back({"leftovers", Status::ok, "nothing left behind by earlier lesson runs", ""});
    else
      checks.push_back({"leftovers", Status::warn,
                        fmt::format("{} thing(s) left behind by killed lesson runs (listed below)",
                                    leftovers.size()),
                        "doctor/doctor --clean removes exactly these"});
    int failures = 0;
    nlohmann::json all = nlohmann::json::array();
    for (const auto& c : checks) {
      if (c.status == Status::fail) ++failures;
      if (output.json) {
        all.push_back({{"check", c.name},
                       {"status", std::string(lab::host::to_string(c.status))},
                       {"detail", c.detail},
                       {"fix", c.fix}});
        if (c.name == "leftovers") {
          all.back()["leftovers"] = nlohmann::json::array();
          for (const auto& l : leftovers) all.back()["leftovers"].push_back(to_json(l));
        }
        continue;
      }
      fmt::print("{:<5} {:<18} {}\n", lab::host::to_string(c.status), c.name, c.detail);
      if (!c.fix.empty()) fmt::print("      {:<18} fix: {}\n", "", c.fix);
      if (c.name == "leftovers")
        for (const auto& l : leftovers) print_leftover(l);
    }
    if (output.json) {
      fmt::print("{}\n", all.dump());
    } else if (failures > 0) {
      fmt::print("doctor: {} problem(s) to fix first\n", failures);
    } else if (!leftovers.empty()) {
      fmt::print(
          "doctor: the lessons can run, but {} leftover(s) of earlier runs are listed above (a "
          "WARN, not a failure): doctor/doctor --clean removes them\n",
          leftovers.size());
    } else {
      fmt::print("doctor: this machine can run every lesson\n");
    }
    return failures == 0 ? 0 : 1;
  });
}
