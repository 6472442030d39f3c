#include "firewall.hpp"

#include <fcntl.h>
#include <fmt/format.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <sstream>

#include "error.hpp"
#include "fd.hpp"
#include "net.hpp"
#include "process.hpp"

namespace net {

namespace {

std::vector<std::string> with_comment(const std::vector<std::string>& spec,
                                      const std::string& comment) {
  std::vector<std::string> out = spec;
  // iptables -S prints the comment match after the other matches and before the target.
  auto jump = out.end();
  for (auto it = out.begin(); it != out.end(); ++it)
    if (*it == "-j") jump = it;
  out.insert(jump, {"-m", "comment", "--comment", comment.empty() ? kRuleComment : comment});
  return out;
}

}  // namespace

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

std::vector<std::string> iptables_args(const Rule& rule, bool add) {
  return iptables_args(rule, add, kRuleComment);
}

std::vector<std::string> iptables_args(const Rule& rule, bool add, const std::string& comment) {
  std::vector<std::string> out = {"-t", rule.table};
  if (!add)
    out.insert(out.end(), {"-D", rule.chain});
  else if (rule.position > 0)
    out.insert(out.end(), {"-I", rule.chain, std::to_string(rule.position)});
  else
    out.insert(out.end(), {"-A", rule.chain});
  auto spec = with_comment(rule.spec, comment);
  out.insert(out.end(), spec.begin(), spec.end());
  return out;
}

std::string rule_as_listed(const Rule& rule) { return rule_as_listed(rule, kRuleComment); }

std::string rule_as_listed(const Rule& rule, const std::string& comment) {
  return fmt::format("-A {} {}", rule.chain, join_argv(with_comment(rule.spec, comment)));
}

std::vector<std::string> listed_lines(const std::string& table) {
  std::string output;
  if (!run_iptables({"-t", table, "-S"}, &output).ok()) return {};
  std::erase(output, '"');
  std::vector<std::string> out;
  std::istringstream in(output);
  for (std::string line; std::getline(in, line);) out.push_back(line);
  return out;
}

std::vector<Chain> docker_chains() {
  return {{"filter", kDockerChain}, {"filter", kDockerUserChain}, {"nat", kDockerChain}};
}

// Docker's own words for these, as `iptables -S` shows them on a host with docker0:
//   -A FORWARD -j DOCKER-USER
//   -A FORWARD -o docker0 -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT
//   -A FORWARD -o docker0 -j DOCKER
//   -A FORWARD -i docker0 ! -o docker0 -j ACCEPT
//   -A FORWARD -i docker0 -o docker0 -j ACCEPT
//   -A DOCKER ! -i docker0 -o docker0 -j DROP
//   -t nat -A PREROUTING -m addrtype --dst-type LOCAL -j DOCKER
//   -t nat -A OUTPUT ! -d 127.0.0.0/8 -m addrtype --dst-type LOCAL -j DOCKER
//   -t nat -A POSTROUTING -s 172.17.0.0/16 ! -o docker0 -j MASQUERADE
// (Docker also has DOCKER-ISOLATION chains, which keep two Docker bridges apart; with one bridge
// they have nothing to do.) The FORWARD rules go first in the chain, as Docker puts them: a
// firewall's own REJECT at the end of FORWARD would otherwise be seen before them.
std::vector<Rule> bridge_network_rules(const std::string& subnet, const std::string& bridge) {
  const std::string user = kDockerUserChain, docker = kDockerChain;
  return {
      {"filter", user, {"-j", "RETURN"}, 0},
      {"filter", "FORWARD", {"-j", user}, 1},
      {"filter",
       "FORWARD",
       {"-o", bridge, "-m", "conntrack", "--ctstate", "RELATED,ESTABLISHED", "-j", "ACCEPT"},
       2},
      {"filter", "FORWARD", {"-o", bridge, "-j", docker}, 3},
      {"filter", "FORWARD", {"-i", bridge, "!", "-o", bridge, "-j", "ACCEPT"}, 4},
      {"filter", "FORWARD", {"-i", bridge, "-o", bridge, "-j", "ACCEPT"}, 5},
      isolation_rule(bridge),
      {"nat", "PREROUTING", {"-m", "addrtype", "--dst-type", "LOCAL", "-j", docker}, 0},
      {"nat",
       "OUTPUT",
       {"!", "-d", "127.0.0.0/8", "-m", "addrtype", "--dst-type", "LOCAL", "-j", docker},
       0},
      {"nat", "POSTROUTING", {"-s", subnet, "!", "-o", bridge, "-j", "MASQUERADE"}, 0},
  };
}

Rule isolation_rule(const std::string& bridge) {
  return {"filter", kDockerChain, {"!", "-i", bridge, "-o", bridge, "-j", "DROP"}, 0};
}

std::vector<std::string> listed_order(const std::vector<Rule>& rules, const std::string& table,
                                      const std::string& chain) {
  std::vector<std::string> out;
  for (const auto& r : rules) {
    if (r.table != table || r.chain != chain) continue;
    auto at = r.position > 0 && static_cast<size_t>(r.position) <= out.size()
                  ? out.begin() + (r.position - 1)
                  : out.end();
    out.insert(at, rule_as_listed(r));
  }
  return out;
}

// Docker's, for `docker run -p 8080:80` of a container at 172.17.0.2:
//   -t nat -A DOCKER ! -i docker0 -p tcp -m tcp --dport 8080 -j DNAT --to-destination 172.17.0.2:80
//   -A DOCKER -d 172.17.0.2/32 ! -i docker0 -o docker0 -p tcp -m tcp --dport 80 -j ACCEPT
std::vector<Rule> published_port_rules(const std::string& bridge, int host_port,
                                       const std::string& container_address, int container_port) {
  return {
      {"nat",
       kDockerChain,
       {"!", "-i", bridge, "-p", "tcp", "-m", "tcp", "--dport", std::to_string(host_port), "-j",
        "DNAT", "--to-destination", fmt::format("{}:{}", container_address, container_port)},
       0},
      {"filter",
       kDockerChain,
       {"-d", container_address + "/32", "!", "-i", bridge, "-o", bridge, "-p", "tcp", "-m", "tcp",
        "--dport", std::to_string(container_port), "-j", "ACCEPT"},
       1},
  };
}

IptablesChain::IptablesChain(Chain chain) : chain_(std::move(chain)) {
  std::vector<std::string> args = {"-t", chain_.table, "-N", chain_.name};
  std::string output;
  lab::ExitStatus s = run_iptables(args, &output);
  if (!s.ok())
    throw lab::UserError(
        fmt::format("iptables {} {}: {}", join_argv(args), s.describe(), lab::trim(output)));
  active_ = true;
}

void IptablesChain::remove() noexcept {
  if (!active_) return;
  active_ = false;
  try {
    run_iptables({"-t", chain_.table, "-F", chain_.name}, nullptr);
    run_iptables({"-t", chain_.table, "-X", chain_.name}, nullptr);
  } catch (...) {
  }
}

IptablesRule::IptablesRule(Rule rule) : rule_(std::move(rule)) {
  std::string output;
  lab::ExitStatus s = run_iptables(iptables_args(rule_, true), &output);
  if (!s.ok()) {
    throw lab::UserError(fmt::format("iptables {} {}: {}", join_argv(iptables_args(rule_, true)),
                                     s.describe(), lab::trim(output)));
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
  const std::string comment = fmt::format("--comment {}", kRuleComment);
  std::vector<std::string> out;
  std::istringstream in(output);
  std::string line;
  while (std::getline(in, line))
    if (line.find(comment) != std::string::npos || line.starts_with("-N LAB-")) out.push_back(line);
  return out;
}

bool rule_exists(const Rule& rule, const std::string& comment) {
  std::vector<std::string> args = iptables_args(rule, false, comment);
  args[2] = "-C";
  return run_iptables(args, nullptr).ok();
}

void ensure_rule(const Rule& rule, const std::string& comment) {
  if (rule_exists(rule, comment)) return;
  std::string output;
  std::vector<std::string> args = iptables_args(rule, true, comment);
  lab::ExitStatus s = run_iptables(args, &output);
  if (!s.ok())
    throw lab::UserError(
        fmt::format("iptables {} {}: {}", join_argv(args), s.describe(), lab::trim(output)));
}

void ensure_chain(const Chain& chain) {
  if (run_iptables({"-t", chain.table, "-S", chain.name}, nullptr).ok()) return;
  std::vector<std::string> args = {"-t", chain.table, "-N", chain.name};
  std::string output;
  lab::ExitStatus s = run_iptables(args, &output);
  // Two engines may race to make it: "Chain already exists" is what the loser sees.
  if (!s.ok() && !run_iptables({"-t", chain.table, "-S", chain.name}, nullptr).ok())
    throw lab::UserError(
        fmt::format("iptables {} {}: {}", join_argv(args), s.describe(), lab::trim(output)));
}

int delete_rules_with_comment(const std::string& table, const std::string& comment) noexcept {
  int deleted = 0;
  try {
    std::string output;
    if (!run_iptables({"-t", table, "-S"}, &output).ok()) return 0;
    // iptables -S quotes a comment that holds anything but letters, digits and a few signs.
    const std::string mark = fmt::format(" --comment {} ", comment);
    const std::string quoted = fmt::format(" --comment \"{}\" ", comment);
    std::istringstream in(output);
    std::string line;
    while (std::getline(in, line)) {
      if (!line.starts_with("-A ") ||
          (line.find(mark) == std::string::npos && line.find(quoted) == std::string::npos))
        continue;
      // Our rules hold no quoted words, so the listing splits on spaces back into arguments.
      std::vector<std::string> args = {"-t", table};
      std::istringstream words(line);
      for (std::string w; words >> w;) {
        if (w.size() >= 2 && w.front() == '"' && w.back() == '"') w = w.substr(1, w.size() - 2);
        args.push_back(w == "-A" && args.size() == 2 ? "-D" : w);
      }
      if (run_iptables(args, nullptr).ok()) ++deleted;
    }
  } catch (...) {
  }
  return deleted;
}

long long rule_packets(const Rule& rule) {
  std::string output;
  lab::ExitStatus s = run_iptables({"-t", rule.table, "-S", rule.chain, "-v"}, &output);
  if (!s.ok())
    throw lab::UserError(fmt::format("iptables -t {} -S {} -v {}: {}", rule.table, rule.chain,
                                     s.describe(), lab::trim(output)));
  const std::string want = rule_as_listed(rule);
  std::istringstream in(output);
  std::string line;
  while (std::getline(in, line)) {
    // "-A CHAIN ... -c 3 180 -j DROP": take the counters out, then compare.
    size_t at = line.find(" -c ");
    if (at == std::string::npos) continue;
    std::istringstream counters(line.substr(at + 4));
    long long packets = 0, bytes = 0;
    if (!(counters >> packets >> bytes)) continue;
    std::string rest;
    std::getline(counters, rest);
    if (line.substr(0, at) + rest == want) return packets;
  }
  return -1;
}

// --- sysctls -------------------------------------------------------------------------------------

std::string saved_sysctl_path(const std::string& key) {
  struct stat st {};
  lab::check(::stat("/proc/self/ns/net", &st), "stat(\"/proc/self/ns/net\")");
  return fmt::format("/run/lab/sysctl/{}/{}", st.st_ino, key);
}

namespace {

// net.ipv4.ip_forward -> /proc/sys/net/ipv4/ip_forward, as sysctl(8) maps them.
std::string proc_sys_path(std::string key) {
  std::replace(key.begin(), key.end(), '.', '/');
  return "/proc/sys/" + key;
}

std::string parent_dir(const std::string& path) { return path.substr(0, path.rfind('/')); }

}  // namespace

Sysctl::Sysctl(std::string key, const std::string& value) : saved_(saved_sysctl_path(key)) {
  const std::string proc = proc_sys_path(key);
  if (::access(saved_.c_str(), F_OK) == 0)
    throw lab::UserError(fmt::format(
        "{} holds the {} of an earlier run that did not finish; put it back with: doctor/doctor "
        "--clean",
        saved_, key));
  old_ = lab::trim(lab::read_file(proc));
  // mkdir -p /run/lab/sysctl/INODE (each level may exist already)
  const std::string dir = parent_dir(saved_);
  for (size_t at = std::string("/run/").size(); at != std::string::npos;) {
    at = dir.find('/', at + 1);
    std::string level = dir.substr(0, at);
    if (::mkdir(level.c_str(), 0755) != 0 && errno != EEXIST)
      lab::check(-1, [&] { return fmt::format("mkdir(\"{}\", 0755)", level); });
  }
  {
    lab::UniqueFd f = lab::open_fd(saved_, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
    std::string line = old_ + "\n";
    lab::check(::write(f.get(), line.data(), line.size()),
               [&] { return fmt::format("write(\"{}\")", saved_); });
  }
  key_ = std::move(key);
  try {
    lab::write_file(proc, value);
  } catch (...) {
    restore();
    throw;
  }
}

void Sysctl::restore() noexcept {
  if (key_.empty()) return;
  try {
    lab::write_file(proc_sys_path(key_), old_);
    // The saved value has done its job; the directories go too once empty.
    ::unlink(saved_.c_str());
    std::string dir = parent_dir(saved_);
    while (dir.size() > std::string("/run").size() && ::rmdir(dir.c_str()) == 0)
      dir = parent_dir(dir);
  } catch (...) {
  }
  key_.clear();
}

}  // namespace net
