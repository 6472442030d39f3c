// make doctor: can this machine run the lessons? Every check prints OK, WARN or FAIL with what
// it saw, and for each problem the exact fix. The lessons call the same checks (common/host.hpp)
// and stop early with the same words.

#include <fmt/format.h>

#include <vector>

#include "cli.hpp"
#include "host.hpp"

int main(int argc, char** argv) {
  lab::OutputOptions output;
  std::string rootfs = lab::host::default_rootfs();
  CLI::App app{"Checks that this machine can run the lessons, and says how to fix what is missing.",
               "doctor"};
  app.add_option("--rootfs", rootfs, "the busybox rootfs the lessons use")->capture_default_str();
  app.add_flag("--json", output.json, "print the checks as a JSON array");
  if (int code = lab::parse_command_line(app, argc, argv); code >= 0) return code;

  return lab::run_guarded("doctor", [&] {
    using lab::host::Status;
    std::vector<lab::host::Check> checks = {
        lab::host::check_root(),
        lab::host::check_environment(),
        lab::host::check_cgroups(),
        lab::host::check_overlay(),
        lab::host::check_root_propagation(),
        lab::host::check_user_namespaces(),
        lab::host::check_rootfs(rootfs),
        lab::host::check_bridge_subnet(),
        lab::host::check_command("unshare", "util-linux"),
        lab::host::check_command("nsenter", "util-linux"),
        lab::host::check_command("ip", "iproute2"),
        lab::host::check_command("iptables", "iptables"),
        lab::host::check_command("busybox", "busybox-static"),
    };
    int failures = 0;
    nlohmann::json all = nlohmann::json::array();
    for (const auto& c : checks) {
      if (c.status == Status::fail) ++failures;
      if (output.json) {
        all.push_back({{"check", c.name},
                       {"status", std::string(lab::host::to_string(c.status))},
                       {"detail", c.detail},
                       {"fix", c.fix}});
        continue;
      }
      fmt::print("{:<5} {:<18} {}\n", lab::host::to_string(c.status), c.name, c.detail);
      if (!c.fix.empty()) fmt::print("      {:<18} fix: {}\n", "", c.fix);
    }
    if (output.json) {
      fmt::print("{}\n", all.dump());
    } else {
      fmt::print("{}\n", failures == 0
                             ? "doctor: this machine can run every lesson"
                             : fmt::format("doctor: {} problem(s) to fix first", failures));
    }
    return failures == 0 ? 0 : 1;
  });
}
