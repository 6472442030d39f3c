// NAT and forwarding for the bridge: the iptables rules Docker adds, and net.ipv4.ip_forward.
//
// The rules are added by running the iptables binary (iptables(8), nf_tables or legacy backend,
// whichever the host has), as Docker itself does: the kernel's nftables netlink API has no stable
// C library in Debian that speaks iptables' rule language. The layout is Docker's (its bridge
// driver, libnetwork), with LAB- in front of the chain names: a LAB-DOCKER chain in the filter
// and nat tables, a LAB-DOCKER-USER chain for the administrator, FORWARD rules that send traffic
// for the bridge through them, and DNAT only for local destinations. Every rule carries the
// comment "lab-bridge" and every chain is called LAB-..., so `iptables -S` shows who made them and
// `doctor --clean` can remove exactly those if the lesson is killed. An IptablesRule deletes its
// rule (-D with the same arguments) and an IptablesChain its chain (-X) when they go away. Like
// routes and links, firewall rules and ip_forward belong to a network namespace: changing them in
// a throwaway namespace leaves the host alone.
#pragma once

#include <string>
#include <utility>
#include <vector>

#include "process.hpp"

namespace net {

// The comment that marks every rule this lesson adds.
inline constexpr const char* kRuleComment = "lab-bridge";
// Docker's chains, under lab names: DOCKER (filter: which forwarded connections into the bridge
// are allowed; nat: the DNATs of published ports) and DOCKER-USER (filter: the administrator's
// own rules, seen before Docker's).
inline constexpr const char* kDockerChain = "LAB-DOCKER";
inline constexpr const char* kDockerUserChain = "LAB-DOCKER-USER";

// One rule: table and chain, then the match and target, e.g.
//   {"nat", "POSTROUTING", {"-s", "172.29.0.0/24", "!", "-o", "lab0", "-j", "MASQUERADE"}}
// The spec is written in the order `iptables -S` prints it (addresses, interfaces, protocol,
// then the -m matches), so that the listing can be compared with it word for word.
struct Rule {
  std::string table;
  std::string chain;
  std::vector<std::string> spec;
  int position = 0;  // 0: append (-A); n: insert as the n-th rule (-I CHAIN n)
};

// A user-defined chain: `iptables -t TABLE -N NAME`.
struct Chain {
  std::string table;
  std::string name;
};

// The iptables arguments that add (-A/-I) or delete (-D) the rule, comment included: the
// lesson's kRuleComment, or `comment` (the engine, final/network, marks each rule with who it
// belongs to, "minidocker:<container id>", so it can find them again by that alone).
std::vector<std::string> iptables_args(const Rule& rule, bool add);
std::vector<std::string> iptables_args(const Rule& rule, bool add, const std::string& comment);
// The rule as `iptables -t TABLE -S` lists it: -A CHAIN ... -m comment --comment lab-bridge ...
// (or `comment`), without the quotes iptables puts around some comments.
std::string rule_as_listed(const Rule& rule);
std::string rule_as_listed(const Rule& rule, const std::string& comment);
// Every line `iptables -t TABLE -S` prints ("-P ...", "-N CHAIN", "-A CHAIN ..."), quotes
// taken out; empty when iptables fails. One listing answers what a `-C` per rule would.
std::vector<std::string> listed_lines(const std::string& table);

// Docker's chains, and the rules of one bridge network (subnet on `bridge`), in the order they
// are added: filter LAB-DOCKER-USER and the five FORWARD rules, the DROP at the end of filter
// LAB-DOCKER, nat PREROUTING and OUTPUT into nat LAB-DOCKER for local destinations, MASQUERADE.
std::vector<Chain> docker_chains();
std::vector<Rule> bridge_network_rules(const std::string& subnet, const std::string& bridge);
// The two rules of one published port (-p HOST_PORT:CONTAINER_PORT): the DNAT in nat
// LAB-DOCKER and the ACCEPT in filter LAB-DOCKER, inserted before its DROP.
std::vector<Rule> published_port_rules(const std::string& bridge, int host_port,
                                       const std::string& container_address, int container_port);

// The DROP at the end of filter LAB-DOCKER (one of bridge_network_rules): a new connection from
// outside into the bridge that no published port's ACCEPT let through.
Rule isolation_rule(const std::string& bridge);

// The rules of `table`'s `chain` among `rules`, as `iptables -S` lists them after they were added
// in this order: appended ones in turn, each inserted one (-I CHAIN n) at place n.
std::vector<std::string> listed_order(const std::vector<Rule>& rules, const std::string& table,
                                      const std::string& chain);

class IptablesChain {
 public:
  explicit IptablesChain(Chain chain);  // iptables -t TABLE -N NAME; throws if it fails
  IptablesChain(IptablesChain&& other) noexcept
      : chain_(std::move(other.chain_)), active_(std::exchange(other.active_, false)) {}
  IptablesChain(const IptablesChain&) = delete;
  IptablesChain& operator=(const IptablesChain&) = delete;
  IptablesChain& operator=(IptablesChain&&) = delete;
  ~IptablesChain() { remove(); }

  const Chain& chain() const { return chain_; }
  void remove() noexcept;  // iptables -t TABLE -F NAME; iptables -t TABLE -X NAME
  Chain release() {
    active_ = false;
    return chain_;
  }

 private:
  Chain chain_;
  bool active_ = false;
};

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

// --- rules that outlive the process that added them (final/network) ----------------------------

// Runs `iptables -w ARGS...` in this process's network namespace; its stdout and stderr go to
// `output` when given.
lab::ExitStatus run_iptables(const std::vector<std::string>& args, std::string* output);
// iptables -t TABLE -C ...: whether the rule, marked with `comment`, is there.
bool rule_exists(const Rule& rule, const std::string& comment);
// Adds the rule marked with `comment` unless it is there already (-C, then -A/-I); throws if
// iptables refuses.
void ensure_rule(const Rule& rule, const std::string& comment);
// iptables -t TABLE -N NAME unless the chain exists.
void ensure_chain(const Chain& chain);
// Deletes every rule of `table` that carries exactly `comment` (read back from iptables -S and
// deleted with -D): what a rule's owner does when it goes, even if it lost its own list.
// Returns how many were deleted.
int delete_rules_with_comment(const std::string& table, const std::string& comment) noexcept;

// The packet counter of a rule (iptables -t TABLE -S CHAIN -v prints it as "-c PACKETS BYTES"),
// or -1 if the rule is not listed.
long long rule_packets(const Rule& rule);

// What `iptables -t TABLE -S` lists of the lesson's: the -N lines of LAB-... chains and the
// rules that carry the lesson's comment, in the order iptables prints them.
std::vector<std::string> listed_lab_rules(const std::string& table);

// --- sysctls that are put back, even after a SIGKILL ---------------------------------------------

// Where the value a sysctl had before the lesson changed it is kept while the lesson runs:
// /run/lab/sysctl/<inode of this network namespace>/<key>, e.g.
// /run/lab/sysctl/4026532290/net.ipv4.ip_forward. If the lesson is killed before it can restore
// the value, `doctor --clean` (run in the same network namespace) finds the file and does it.
std::string saved_sysctl_path(const std::string& key);

// Sets a sysctl (e.g. "net.ipv4.ip_forward" to "1"; the file is /proc/sys/net/ipv4/ip_forward),
// after saving its old value at saved_sysctl_path(key); puts the old value back and removes the
// saved file when it goes away. Refuses if a saved value is already there: it is the true old
// value of an earlier run that was killed, and only `doctor --clean` should put it back.
class Sysctl {
 public:
  Sysctl(std::string key, const std::string& value);
  Sysctl(const Sysctl&) = delete;
  Sysctl& operator=(const Sysctl&) = delete;
  ~Sysctl() { restore(); }
  const std::string& old_value() const { return old_; }
  const std::string& saved_path() const { return saved_; }
  void restore() noexcept;
  // --keep: the new value stays, and so does the saved file (doctor --clean restores it).
  void release() { key_.clear(); }

 private:
  std::string key_;
  std::string saved_;
  std::string old_;
};

}  // namespace net
