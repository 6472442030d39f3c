// The container's cgroups, from the runtime's side (runc's libcontainer/cgroups, in small).
//
// `runtime create` makes the container's cgroup before its init may run anything, puts the init
// in, and applies the spec's linux.resources; `runtime delete` kills what is left and removes it.
// Every controller step is lesson 04's (cgroup::set_cpu_limit, set_memory_limit, ...): this file
// decides WHERE, the lesson's module knows WHAT to write.
//
// Where depends on the host (lab::host::detect_cgroups):
//   v2      one tree (/sys/fs/cgroup): mkdir there, and have each ancestor hand cpu, memory and
//           pids down (+cpu in its cgroup.subtree_control) so the leaf gets their files.
//   v1      one tree per controller (/sys/fs/cgroup/memory, /sys/fs/cgroup/cpu,cpuacct, ...): the
//           same path is made in each of them and the process joins every one.
//   hybrid  v1 as above, plus the (nearly empty) cgroup2 tree, as runc does: the container is a
//           cgroup there too, which gives it cgroup.kill and a v2 view of its processes.
// The cgroupsPath of the spec names the cgroup inside each tree ("/minidocker/<id>" by default).
#pragma once

#include <sys/types.h>

#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "cgroup.hpp"
#include "cgroup_dir.hpp"
#include "fd.hpp"
#include "host.hpp"

namespace runtime::cgroups {

// One linux.resources.devices entry: allow or deny access to a device node.
struct DeviceRule {
  bool allow = false;
  char type = 'a';                   // 'a' (all), 'c' (char), 'b' (block)
  long long major = -1, minor = -1;  // -1: any ("*")
  std::string access = "rwm";        // read, write, mknod
};

// The parts of linux.resources minidocker applies; nullopt (or an empty list) leaves the
// kernel's default.
struct Resources {
  std::optional<long long> cpu_quota = {};     // us per period; -1: no limit
  std::optional<long long> cpu_period = {};    // us
  std::optional<long long> cpu_shares = {};    // v1 cpu.shares (2..262144), v2 gets a weight
  std::optional<long long> memory_limit = {};  // bytes; -1: no limit
  std::optional<long long> memory_swap = {};   // memory PLUS swap, bytes; -1: no limit
  std::optional<long long> pids_limit = {};    // <= 0: no limit
  std::vector<DeviceRule> devices = {};
};

// Why these resources cannot be applied, in one line, or "" (pure). Values only the kernel can
// judge (a quota below 1 ms, a limit below current usage) come back from create() instead.
std::string validate(const Resources& resources);
// The cgroup a container gets when the spec names none: "/minidocker/<id>".
std::string default_path(const std::string& id);
// Why a cgroupsPath cannot be used, or "": absolute, no empty, "." or ".." components.
std::string validate_path(const std::string& cgroups_path);

// What v1's devices controller is told, in order: "a" into devices.deny (nothing allowed), then
// each rule into devices.allow or devices.deny, e.g. "c 1:3 rwm" (pure).
std::string device_rule_text(const DeviceRule& rule);
std::vector<cgroup::FileWrite> v1_device_writes(const std::string& dir,
                                                const std::vector<DeviceRule>& rules);

// cgroup v2 has no devices files: the kernel asks a BPF program of type
// BPF_PROG_TYPE_CGROUP_DEVICE, attached to the cgroup, on every open(2) and mknod(2) of a device
// node. The program below checks the rules last first (in OCI the last matching rule wins; an
// allow rule matches when it grants every access asked for, a deny rule when it refuses any of
// them) and refuses what no rule matches. Its instructions (pure, as raw struct bpf_insn, so
// tests can read them):
struct BpfInsn {
  unsigned char code;
  unsigned char regs;  // dst_reg in the low 4 bits, src_reg in the high 4
  short off;
  int imm;
};
std::vector<BpfInsn> device_filter_program(const std::vector<DeviceRule>& rules);
// bpf(BPF_PROG_LOAD) the program and bpf(BPF_PROG_ATTACH) it to the cgroup v2 directory
// `dir` with BPF_F_ALLOW_MULTI (a parent's programs still run too). The attachment lives as long
// as the cgroup. A verifier refusal carries the kernel's log.
void attach_device_filter(const std::string& dir, const std::vector<DeviceRule>& rules);

// One mounted cgroup tree: a v1 hierarchy (controllers "cpu,cpuacct") or the cgroup2 tree.
struct Hierarchy {
  std::string name;  // "cpu,cpuacct", "memory", ... or "unified"
  std::string root;  // its mount point
  cgroup::Version version = cgroup::Version::v2;
  std::vector<std::string> controllers;
};
// Every tree a container joins on this layout (pure): v2: the one tree; v1: each v1 hierarchy
// once (cpu and cpuacct often share one); hybrid: those plus the cgroup2 tree.
std::vector<Hierarchy> hierarchies_for(const lab::host::CgroupLayout& layout);

// v2's cpu.max for OCI's quota and period: "max 100000", "20000 100000" (pure).
std::string cpu_max_value(std::optional<long long> quota, std::optional<long long> period);

class Cgroup {
 public:
  Cgroup() = default;
  // Makes cgroups_path in every tree (its missing ancestors too), lets v2 ancestors hand down
  // cpu, memory and pids, and applies `resources`. Throws lab::UserError for a bad path or
  // value, lab::SyscallError naming the file and value the kernel refused; on any failure
  // nothing is left behind.
  static Cgroup create(const std::string& cgroups_path, const Resources& resources);
  // The container's cgroup as left by an earlier create (for delete, kill, state): nothing is
  // made. Trees where the path does not exist are left out. remove() also removes an empty
  // /minidocker parent, which only minidocker makes.
  //
  // `grants` are the ones an earlier create() made (grants_made(), kept in state.json): create
  // hands its grants on with release(), so the delete in another process takes them back here,
  // once the directory has no child cgroup left (a bare v2 host's root is left as it was found).
  static Cgroup open(const std::string& cgroups_path,
                     std::vector<std::pair<std::string, std::string>> grants = {});

  Cgroup(Cgroup&& other) noexcept;
  Cgroup& operator=(Cgroup&& other) noexcept;
  Cgroup(const Cgroup&) = delete;
  Cgroup& operator=(const Cgroup&) = delete;
  ~Cgroup() { remove_quietly(); }

  // echo PID > cgroup.procs in every tree, from the parent (the whole process, all threads).
  void add_process(pid_t pid);
  // The same in the v2 tree only (a pure v2 host's, or a hybrid host's unified tree): for a
  // process that joins the v1 trees itself (join_self) and could not be born in its v2 cgroup.
  void add_process_to_v2(pid_t pid);
  // The v2 tree's directory (pure v2 or hybrid), opened for clone3's CLONE_INTO_CGROUP: the
  // process is born inside it, and nobody writes to cgroup.procs. -1 where there is no v2 tree.
  lab::UniqueFd open_for_clone() const;
  // The `tasks` files of the v1 trees, for join_self in the new process. Empty on pure v2.
  std::vector<std::string> self_join_files() const;
  // The PIDs in the container's cgroup (pids, freezer or cgroup2 tree: all hold every process).
  std::vector<pid_t> processes() const;
  // Signals every process. SIGKILL through v2's cgroup.kill where the kernel has it (5.14+,
  // also on hybrid hosts); otherwise the group is frozen first (v1 freezer, v2 cgroup.freeze) so
  // that nothing forks between reading cgroup.procs and the kill(2)s, then thawed.
  void kill_all(int signal);
  // runc's pause and resume: every process of the group stops being scheduled (v1 freezer's
  // freezer.state FROZEN, or v2's cgroup.freeze 1, where cgroup.events says "frozen 1" once the
  // kernel is done) and goes on where it was when thawed. Throws when neither exists, or when the
  // group does not settle (bounded, about 1 s), thawing it again first.
  void freeze();
  void thaw();
  // rmdir in every tree, waiting (bounded, about 2 s) for killed processes to leave; then the
  // ancestors it made if they are empty, and the subtree_control grants it made.
  void remove();
  void remove_quietly() noexcept;
  // Hands the cgroup on: the destructor no longer removes it (the container outlives us).
  void release();

  const std::string& cgroups_path() const { return path_; }
  // The (directory, controller) pairs whose "+controller" create() wrote into
  // <directory>/cgroup.subtree_control, outermost first; empty when every grant was there before.
  const std::vector<std::pair<std::string, std::string>>& grants_made() const {
    return grants_made_;
  }
  // Every directory of the container, one per tree.
  std::vector<std::string> paths() const;
  // Where `controller`'s files are ("memory" -> /sys/fs/cgroup/memory/minidocker/x); "unified"
  // for the cgroup2 tree; "" when no tree has it.
  std::string path_in(const std::string& controller) const;
  // The version of the tree path_in(controller) is in.
  cgroup::Version version_of(const std::string& controller) const;
  // What was done, in order, as (call, shell) pairs for --explain:
  //   ("mkdir(\"/sys/fs/cgroup/pids/minidocker/x\", 0755)", "mkdir /sys/fs/cgroup/pids/...")
  //   ("write(\".../pids.max\", \"10\")", "echo 10 > .../pids.max")
  const std::vector<std::pair<std::string, std::string>>& steps() const { return steps_; }

 private:
  struct Place {
    Hierarchy hierarchy;
    std::string dir;                   // root + cgroups path
    std::vector<std::string> created;  // directories made (or owned), outermost first
  };
  void make_in(const Hierarchy& h);
  void apply(const Resources& r);
  void apply_devices(const std::vector<DeviceRule>& rules);
  void record(const cgroup::FileWrite& w);
  void write(const std::string& file, const std::string& value);
  const Place* place_with(const std::string& controller) const;

  std::string path_;
  std::vector<Place> places_;
  std::vector<lab::SubtreeControl> grants_;
  std::vector<std::pair<std::string, std::string>> grants_made_;
  std::vector<std::pair<std::string, std::string>> steps_;
  bool owned_ = false;
};

// Called by a just-cloned process (one thread, so `tasks` moves all of it): echo 0 > tasks in
// each of `files`, from self_join_files(). Written by the process itself, with 0 for "me", a
// v1 move skips the lock on every thread group that cgroup.procs takes (cgroup_threadgroup_rwsem,
// whose first writer waits for an RCU grace period: 4-20 ms measured here against 0.4 ms for
// the same three trees joined this way). Throws lab::SyscallError naming the file.
void join_self(const std::vector<std::string>& files);

}  // namespace runtime::cgroups
