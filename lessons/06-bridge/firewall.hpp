// NAT and forwarding for the bridge: the iptables rules Docker adds, and net.ipv4.ip_forward.
//
// The rules are added by running the iptables binary (iptables(8), nf_tables or legacy backend,
// whichever the host has), as Docker itself does: the kernel's nftables netlink API has no stable
// C library in Debian that speaks iptables' rule language. Every rule carries the comment
// "lab-bridge" so `iptables -S` shows who made it, and an IptablesRule deletes its rule (-D with
// the same arguments) when it goes away. Like routes and links, firewall rules and ip_forward
// belong to a network namespace: changing them in a throwaway namespace leaves the host alone.
#pragma once

#include <string>
#include <utility>
#include <vector>

namespace net {

// The comment that marks every rule this lesson adds.
inline constexpr const char* kRuleComment = "lab-bridge";

// One rule: table and chain, then the match and target, e.g.
//   {"nat", "POSTROUTING", {"-s", "172.29.0.0/24", "!", "-o", "lab0", "-j", "MASQUERADE"}}
struct Rule {
  std::string table;
  std::string chain;
  std::vector<std::string> spec;
  bool insert_first = false;  // -I (before rules already there, such as Docker's) instead of -A
};

// The iptables arguments that add (-A/-I) or delete (-D) the rule, comment included.
std::vector<std::string> iptables_args(const Rule& rule, bool add);
// The rule as `iptables -t TABLE -S` lists it: -A CHAIN ... -m comment --comment lab-bridge ...
std::string rule_as_listed(const Rule& rule);

// The rules Docker adds for a bridge network, and for one published port (-p HOST:CONTAINER).
Rule masquerade_rule(const std::string& subnet, const std::string& bridge);
Rule forward_rule(const std::string& subnet, bool to_subnet);
Rule port_mapping_rule(int host_port, const std::string& container_address, int container_port);

class IptablesRule {
 public:
  explicit IptablesRule(Rule rule);  // runs iptables -t TABLE -A/-I ...; throws if it fails
  IptablesRule(IptablesRule&& other) noexcept
      : rule_(std::move(other.rule_)), active_(std::exchange(other.active_, false)) {}
  IptablesRule(const IptablesRule&) = delete;
  IptablesRule& operator=(const IptablesRule&) = delete;
  IptablesRule& operator=(IptablesRule&&) = delete;
  ~IptablesRule() { remove(); }

  const Rule& rule() const { return rule_; }
  void remove() noexcept;  // iptables -t TABLE -D ...
  Rule release() {
    active_ = false;
    return rule_;
  }

 private:
  Rule rule_;
  bool active_ = false;
};

// The lines of `iptables -t TABLE -S` that carry the lesson's comment.
std::vector<std::string> listed_lab_rules(const std::string& table);

// Sets a sysctl under /proc/sys (e.g. "net/ipv4/ip_forward" to "1") and puts the old value back
// when it goes away.
class Sysctl {
 public:
  Sysctl(std::string path, const std::string& value);
  Sysctl(const Sysctl&) = delete;
  Sysctl& operator=(const Sysctl&) = delete;
  ~Sysctl() { restore(); }
  const std::string& old_value() const { return old_; }
  void restore() noexcept;
  void release() { path_.clear(); }

 private:
  std::string path_;
  std::string old_;
};

}  // namespace net
