// Capabilities: root's power cut into ~41 pieces (capabilities(7)).
//
// A process has five sets. The bounding set is the ceiling: a capability dropped from it can
// never come back, not even through a setuid-root binary, so it is dropped first
// (prctl(PR_CAPBSET_DROP), needs CAP_SETPCAP). Permitted is what the process may use, effective
// is what the kernel checks right now, inheritable (and ambient, since Linux 4.3) is what
// survives execve. The OCI spec's process.capabilities lists names for each set, as
// "CAP_SYS_ADMIN"; runc applies them in the container's init just before execve:
//   drop_bounding_in_child  (as root)
//   prctl(PR_SET_KEEPCAPS, 1); setgroups/setgid/setuid; prctl(PR_SET_KEEPCAPS, 0)
//   apply_in_child          (capset, then the ambient raises)
// Kernel surprise: setuid from 0 to a non-zero uid clears every set unless KEEPCAPS is on, and
// even then clears effective - which is why capset comes after the user switch.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace lab::caps {

// "CAP_SYS_ADMIN" -> 21 (CAP_SYS_ADMIN); nullopt for a name libcap does not know, and for any
// spelling other than the upper-case "CAP_" one that the OCI spec uses ("cap_sys_admin",
// "SYS_ADMIN", "21").
std::optional<int> capability_number(std::string_view name);

// 21 -> "CAP_SYS_ADMIN"; a number libcap has no name for comes back as "CAP_<number>".
std::string capability_name(int cap);

// The highest capability number the running kernel knows (/proc/sys/kernel/cap_last_cap).
int last_cap();

// The OCI spec's process.capabilities.
struct Sets {
  std::vector<std::string> bounding{}, effective{}, permitted{}, inheritable{}, ambient{};
};

// "" when every name is known, else one line naming the first unknown one and its set:
//   unknown capability "CAP_FOO" in process.capabilities.bounding
std::string validate(const Sets& sets);

// Names libcap knows but the running kernel does not (number > cap_last_cap), each once, in the
// order first met. runc warns about these and goes on; so do we: the *_in_child functions skip
// them.
std::vector<std::string> unknown_to_kernel(const Sets& sets);

// Child side, as root, before the user switch: PR_CAPBSET_DROP for every capability up to
// cap_last_cap that `sets.bounding` does not list.
void drop_bounding_in_child(const Sets& sets);

// Child side, after the user switch: capset(effective, permitted, inheritable), then clear the
// ambient set and raise each ambient capability (the kernel only allows one that is in both
// permitted and inheritable).
void apply_in_child(const Sets& sets);

// A set of names as the bit mask /proc/PID/status shows (bit N = capability N). Unknown names
// are ignored.
uint64_t mask(const std::vector<std::string>& names);

// The hex value of a CapBnd/CapEff/... line of /proc/PID/status: "000001fffeffffff".
// Throws std::invalid_argument on anything else.
uint64_t parse_status_mask(std::string_view hex);

// The names in a mask, lowest bit first.
std::vector<std::string> names_in_mask(uint64_t bits);

// The value of one "Cap...:" line of /proc/PID/status (pid 0 = this process), e.g. "CapBnd".
uint64_t read_status_mask(int pid, std::string_view field);

// Docker's default capability set (moby's oci/caps DefaultCapabilities), 14 names.
std::vector<std::string> docker_default();

}  // namespace lab::caps
