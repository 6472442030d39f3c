// What the lessons leave behind when they are killed, and how `doctor --clean` removes it.
//
// The kernel cleans up by itself what belongs to a process (its namespaces, its mounts in a
// private mount namespace, its children with a parent-death signal). It cannot clean what lives on
// in the host's shared trees: cgroup directories, files and mounts under /tmp, network links,
// named network namespaces, firewall rules and sysctl values. Every lesson gives those a lab name,
// so that this module can find exactly them and nothing else:
//   cgroups named lab-*       in every mounted hierarchy (v1 controllers and cgroup2)
//   directories /tmp/lab-*    with any mounts under them
//   links lab0 and lab-*      in the current network namespace
//   named netns lab-*         /run/netns/lab-*
//   iptables                  rules whose comment starts with lab- (or that jump to a LAB-* chain),
//                             chains named LAB-*, in the filter and nat tables
//   saved sysctls             /run/lab/sysctl/<netns inode>/<key> holds the value a lesson
//                             changed (e.g. net.ipv4.ip_forward); cleaning restores it
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace lab::leftovers {

struct Leftover {
  std::string
      kind;  // "cgroup", "dir", "link", "netns", "iptables-rule", "iptables-chain", "sysctl"
  std::string name;    // the path, link name or rule as listed
  std::string what;    // what it is, in a few words
  std::string remove;  // the shell command that removes exactly this one
};

// Everything lab-named on this host (links, rules and sysctls: of the current network namespace).
std::vector<Leftover> find();

struct Failure {
  Leftover leftover;
  std::string error;
};
struct CleanResult {
  std::vector<Leftover> removed;
  std::vector<Failure> failed;
};
// Removes what find() lists: processes in lab cgroups are killed first, mounts under /tmp/lab-*
// are detached deepest first, saved sysctls are written back.
CleanResult clean();

// --- pure pieces, for the unit tests -----------------------------------------------------------
// "lab0" or "lab-..." (what a lesson names its links, netns, cgroups and temp dirs after /tmp/).
bool is_lab_name(std::string_view name);

// One line of `iptables -S` split into words the way iptables quotes them: a word with spaces is
// in double quotes, with \" and \\ inside.
std::vector<std::string> split_iptables_words(std::string_view line);
// A word quoted for a shell when it needs it (for the commands doctor prints).
std::string shell_quote(std::string_view word);
std::string shell_join(const std::vector<std::string>& words);

// For a "-A CHAIN ..." line of `iptables -t TABLE -S`: whether the rule is a lesson's (its
// comment starts with "lab-", or it jumps to a LAB-* chain) and not inside a LAB-* chain (those
// go with their chain). Then the argv that deletes it: iptables -t TABLE -D CHAIN <same spec>.
std::optional<std::vector<std::string>> lab_rule_delete_command(std::string_view table,
                                                                std::string_view line);
// For a "-N CHAIN" line: the chain's name if it is LAB-*.
std::optional<std::string> lab_chain(std::string_view line);

// "net.ipv4.ip_forward" -> "/proc/sys/net/ipv4/ip_forward"; nullopt for a key that is not a
// plain sysctl name (so a stray file can never make doctor write elsewhere).
std::optional<std::string> sysctl_path(std::string_view key);

}  // namespace lab::leftovers
