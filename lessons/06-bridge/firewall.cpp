#include "firewall.hpp"

#include <fmt/format.h>
#include <unistd.h>

#include <sstream>

#include "error.hpp"
#include "fd.hpp"
#include "net.hpp"
#include "process.hpp"

namespace net {

namespace {

std::vector<std::string> with_comment(const std::vector<std::string>& spec) {
  std::vector<std::string> out = spec;
  // iptables -S prints the comment match after the other matches and before the target.
  auto jump = out.end();
  for (auto it = out.begin(); it != out.end(); ++it)
    if (*it == "-j") jump = it;
  out.insert(jump, {"-m", "comment", "--comment", kRuleComment});
  return out;
}

lab::ExitStatus run_iptables(const std::vector<std::string>& args, std::string* output) {
  std::string path = "iptables";
  for (const char* dir : {"/usr/sbin", "/sbin", "/usr/local/sbin", "/usr/bin", "/bin"}) {
    std::string candidate = fmt::format("{}/iptables", dir);
    if (::access(candidate.c_str(), X_OK) == 0) {
      path = candidate;
      break;
    }
  }
  std::vector<std::string> argv = {path, "-w"};
  argv.insert(argv.end(), args.begin(), args.end());
  // pid 0: the command runs in the namespace this program is in, the lesson's "host".
  CommandResult r = run_in_netns(0, argv);
  if (output) *output = r.output;
  return r.status;
}

}  // namespace

std::vector<std::string> iptables_args(const Rule& rule, bool add) {
  std::vector<std::string> out = {"-t", rule.table, add ? (rule.insert_first ? "-I" : "-A") : "-D",
                                  rule.chain};
  auto spec = with_comment(rule.spec);
  out.insert(out.end(), spec.begin(), spec.end());
  return out;
}

std::string rule_as_listed(const Rule& rule) {
  return fmt::format("-A {} {}", rule.chain, join_argv(with_comment(rule.spec)));
}

Rule masquerade_rule(const std::string& subnet, const std::string& bridge) {
  return {"nat", "POSTROUTING", {"-s", subnet, "!", "-o", bridge, "-j", "MASQUERADE"}, false};
}

Rule forward_rule(const std::string& subnet, bool to_subnet) {
  return {"filter", "FORWARD", {to_subnet ? "-d" : "-s", subnet, "-j", "ACCEPT"}, true};
}

Rule port_mapping_rule(int host_port, const std::string& container_address, int container_port) {
  return {"nat",
          "PREROUTING",
          {"-p", "tcp", "-m", "tcp", "--dport", std::to_string(host_port), "-j", "DNAT",
           "--to-destination", fmt::format("{}:{}", container_address, container_port)},
          false};
}

IptablesRule::IptablesRule(Rule rule) : rule_(std::move(rule)) {
  std::string output;
  lab::ExitStatus s = run_iptables(iptables_args(rule_, true), &output);
  if (!s.ok()) {
    throw lab::UserError(fmt::format("iptables {} {}: {}", join_argv(iptables_args(rule_, true)),
                                     s.describe(), trim(output)));
  }
  active_ = true;
}

void IptablesRule::remove() noexcept {
  if (!active_) return;
  active_ = false;
  try {
    run_iptables(iptables_args(rule_, false), nullptr);
  } catch (...) {
  }
}

std::vector<std::string> listed_lab_rules(const std::string& table) {
  std::string output;
  lab::ExitStatus s = run_iptables({"-t", table, "-S"}, &output);
  if (!s.ok())
    throw lab::UserError(fmt::format("iptables -t {} -S {}: {}", table, s.describe(), output));
  std::vector<std::string> out;
  std::istringstream in(output);
  std::string line;
  while (std::getline(in, line))
    if (line.find(kRuleComment) != std::string::npos) out.push_back(line);
  return out;
}

Sysctl::Sysctl(std::string path, const std::string& value) : path_("/proc/sys/" + std::move(path)) {
  old_ = trim(lab::read_file(path_));
  lab::write_file(path_, value);
}

void Sysctl::restore() noexcept {
  if (path_.empty()) return;
  try {
    lab::write_file(path_, old_);
  } catch (...) {
  }
  path_.clear();
}

}  // namespace net
