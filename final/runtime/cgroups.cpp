#include "runtime/cgroups.hpp"

#include <fcntl.h>
#include <fmt/format.h>
#include <linux/bpf.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <exception>
#include <filesystem>
#include <map>

#include "error.hpp"
#include "fd.hpp"

namespace runtime::cgroups {

using cgroup::FileWrite;
using cgroup::Version;

namespace {

constexpr int kRemoveAttempts = 200;   // x 10 ms: killed processes leave within a moment
constexpr int kFreezeAttempts = 1000;  // x 1 ms

// The controllers a v2 ancestor hands down, so the leaf has cpu.max, memory.max, pids.max.
const std::vector<std::string> kV2Controllers = {"cpu", "memory", "pids"};

// Whether `dir` holds a child cgroup (any subdirectory); an unreadable one counts as holding one.
bool has_child_cgroup(const std::string& dir) {
  std::error_code ec;
  for (const auto& entry : std::filesystem::directory_iterator(dir, ec)) {
    if (entry.is_directory(ec)) return true;
  }
  return static_cast<bool>(ec);
}

bool exists(const std::string& path) { return ::access(path.c_str(), F_OK) == 0; }

// "/minidocker/x" -> {"/minidocker", "/minidocker/x"}
std::vector<std::string> prefixes(const std::string& cgroups_path) {
  std::vector<std::string> out;
  for (size_t slash = cgroups_path.find('/', 1); slash != std::string::npos;
       slash = cgroups_path.find('/', slash + 1))
    out.push_back(cgroups_path.substr(0, slash));
  out.push_back(cgroups_path);
  return out;
}

bool has(const std::vector<std::string>& list, const std::string& item) {
  return std::find(list.begin(), list.end(), item) != list.end();
}

std::string mkdir_call(const std::string& dir) {
  return fmt::format("mkdir({}, 0755)", lab::quote(dir));
}

// The kernel's EINVAL on cpu files says nothing of its ranges.
[[noreturn]] void explain_cpu_einval(const lab::SyscallError& e) {
  throw lab::SyscallError(
      e.code().value(),
      fmt::format("{} (the kernel takes a quota of at least 1000 us and a period of 1000 to "
                  "1000000 us, and a child's share may not exceed its parent's)",
                  e.call()));
}

}  // namespace

// --- pure ----------------------------------------------------------------------------------------

std::string default_path(const std::string& id) { return "/minidocker/" + id; }

std::string validate_path(const std::string& cgroups_path) {
  if (cgroups_path.empty() || cgroups_path[0] != '/')
    return fmt::format("cgroupsPath \"{}\" must be absolute, e.g. /minidocker/NAME", cgroups_path);
  if (cgroups_path == "/")
    return "cgroupsPath \"/\" is the root cgroup; a container needs its own, e.g. /minidocker/NAME";
  if (cgroups_path.find('\n') != std::string::npos) return "cgroupsPath may not hold a newline";
  size_t start = 1;
  while (start <= cgroups_path.size()) {
    size_t end = cgroups_path.find('/', start);
    if (end == std::string::npos) end = cgroups_path.size();
    std::string part = cgroups_path.substr(start, end - start);
    if (part.empty())
      return fmt::format("cgroupsPath \"{}\" has an empty component (\"//\" or a trailing /)",
                         cgroups_path);
    if (part == "." || part == "..")
      return fmt::format("cgroupsPath \"{}\" may not hold \"{}\": it must stay inside the tree",
                         cgroups_path, part);
    start = end + 1;
  }
  return "";
}

std::string validate(const Resources& r) {
  if (r.cpu_quota && (*r.cpu_quota < -1))
    return fmt::format("cpu.quota {}: give microseconds per period, or -1 for no limit",
                       *r.cpu_quota);
  if (r.cpu_period && *r.cpu_period < 0)
    return fmt::format("cpu.period {}: give microseconds (1000 to 1000000)", *r.cpu_period);
  if (r.cpu_shares && *r.cpu_shares != 0 && (*r.cpu_shares < 2 || *r.cpu_shares > 262144))
    return fmt::format("cpu.shares {}: the kernel takes 2 to 262144 (1024 is the default)",
                       *r.cpu_shares);
  if (r.memory_limit || r.memory_swap) {
    std::string why = cgroup::validate_memory(r.memory_limit.value_or(-1), r.memory_swap);
    if (!why.empty()) return why;
  }
  for (const DeviceRule& d : r.devices) {
    if (d.type != 'a' && d.type != 'c' && d.type != 'b')
      return fmt::format("device rule type '{}': use a (all), c (char) or b (block)", d.type);
    if (d.major < -1 || d.minor < -1)
      return fmt::format("device rule {}: major and minor are numbers, or -1 for any",
                         device_rule_text(d));
    if (d.access.empty() || d.access.find_first_not_of("rwm") != std::string::npos)
      return fmt::format("device rule access \"{}\": use letters from rwm (read, write, mknod)",
                         d.access);
  }
  return "";
}

std::string device_rule_text(const DeviceRule& rule) {
  auto number = [](long long n) { return n < 0 ? std::string("*") : std::to_string(n); };
  return fmt::format("{} {}:{} {}", rule.type, number(rule.major), number(rule.minor), rule.access);
}

std::vector<FileWrite> v1_device_writes(const std::string& dir,
                                        const std::vector<DeviceRule>& rules) {
  // Start from nothing allowed, then the spec's rules in order, as runc did before its
  // emulator. A rule of type 'a' resets the whole list in the kernel (allow-all or deny-all).
  std::vector<FileWrite> out{{dir + "/devices.deny", "a"}};
  for (const DeviceRule& rule : rules)
    out.push_back(
        {dir + (rule.allow ? "/devices.allow" : "/devices.deny"), device_rule_text(rule)});
  return out;
}

std::vector<Hierarchy> hierarchies_for(const lab::host::CgroupLayout& layout) {
  using lab::host::CgroupMode;
  std::vector<Hierarchy> out;
  if (layout.mode == CgroupMode::v1 || layout.mode == CgroupMode::hybrid) {
    std::map<std::string, std::vector<std::string>> by_mount;
    for (const auto& [controller, mount] : layout.v1_controllers)
      by_mount[mount].push_back(controller);
    for (const auto& [mount, controllers] : by_mount)
      out.push_back(
          {fmt::format("{}", fmt::join(controllers, ",")), mount, Version::v1, controllers});
  }
  if (!layout.v2_mount.empty() &&
      (layout.mode == CgroupMode::v2 || layout.mode == CgroupMode::hybrid))
    out.push_back({"unified", layout.v2_mount, Version::v2, layout.v2_controllers});
  return out;
}

std::string cpu_max_value(std::optional<long long> quota, std::optional<long long> period) {
  cgroup::CpuLimit limit;
  if (quota && *quota > 0) limit.quota_us = *quota;
  if (period && *period > 0) limit.period_us = *period;
  return cgroup::format_cpu_max(limit);
}

// --- v2 devices: a BPF program ------------------------------------------------------------------

namespace {

static_assert(sizeof(BpfInsn) == sizeof(bpf_insn));

BpfInsn insn(int code, int dst, int src, int off, int imm) {
  return {static_cast<unsigned char>(code), static_cast<unsigned char>((src << 4) | dst),
          static_cast<short>(off), imm};
}

// struct bpf_cgroup_dev_ctx's access_type: the device type in the low 16 bits, the access
// asked for in the high 16.
int bpf_device_type(char type) {
  return type == 'b' ? BPF_DEVCG_DEV_BLOCK : type == 'c' ? BPF_DEVCG_DEV_CHAR : 0;
}

int bpf_access(const std::string& access) {
  int bits = 0;
  if (access.find('r') != std::string::npos) bits |= BPF_DEVCG_ACC_READ;
  if (access.find('w') != std::string::npos) bits |= BPF_DEVCG_ACC_WRITE;
  if (access.find('m') != std::string::npos) bits |= BPF_DEVCG_ACC_MKNOD;
  return bits;
}

long bpf(int cmd, bpf_attr* attr) { return ::syscall(SYS_bpf, cmd, attr, sizeof(*attr)); }

}  // namespace

std::vector<BpfInsn> device_filter_program(const std::vector<DeviceRule>& rules) {
  constexpr int all = BPF_DEVCG_ACC_READ | BPF_DEVCG_ACC_WRITE | BPF_DEVCG_ACC_MKNOD;
  std::vector<BpfInsn> prog = {
      // r2 = type, r3 = access, r4 = major, r5 = minor (r1 points at bpf_cgroup_dev_ctx)
      insn(BPF_LDX | BPF_MEM | BPF_W, BPF_REG_2, BPF_REG_1, 0, 0),
      insn(BPF_ALU | BPF_AND | BPF_K, BPF_REG_2, 0, 0, 0xFFFF),
      insn(BPF_LDX | BPF_MEM | BPF_W, BPF_REG_3, BPF_REG_1, 0, 0),
      insn(BPF_ALU | BPF_RSH | BPF_K, BPF_REG_3, 0, 0, 16),
      insn(BPF_LDX | BPF_MEM | BPF_W, BPF_REG_4, BPF_REG_1, 4, 0),
      insn(BPF_LDX | BPF_MEM | BPF_W, BPF_REG_5, BPF_REG_1, 8, 0),
  };
  for (auto rule = rules.rbegin(); rule != rules.rend(); ++rule) {
    // Each test jumps past this rule's block to the next rule; the jump offsets are filled in
    // once the block's length is known.
    std::vector<BpfInsn> block;
    std::vector<size_t> exits;
    auto skip_unless = [&](BpfInsn test) {
      exits.push_back(block.size());
      block.push_back(test);
    };
    if (rule->type != 'a')
      skip_unless(insn(BPF_JMP | BPF_JNE | BPF_K, BPF_REG_2, 0, 0, bpf_device_type(rule->type)));
    const int access = bpf_access(rule->access);
    if (access != all) {
      block.push_back(insn(BPF_ALU | BPF_MOV | BPF_X, BPF_REG_1, BPF_REG_3, 0, 0));
      block.push_back(insn(BPF_ALU | BPF_AND | BPF_K, BPF_REG_1, 0, 0, access));
      if (rule->allow)  // every access asked for is granted: (asked & rule) == asked
        skip_unless(insn(BPF_JMP | BPF_JNE | BPF_X, BPF_REG_1, BPF_REG_3, 0, 0));
      else  // some access asked for is refused: (asked & rule) != 0
        skip_unless(insn(BPF_JMP | BPF_JEQ | BPF_K, BPF_REG_1, 0, 0, 0));
    }
    if (rule->major >= 0)
      skip_unless(insn(BPF_JMP | BPF_JNE | BPF_K, BPF_REG_4, 0, 0, static_cast<int>(rule->major)));
    if (rule->minor >= 0)
      skip_unless(insn(BPF_JMP | BPF_JNE | BPF_K, BPF_REG_5, 0, 0, static_cast<int>(rule->minor)));
    block.push_back(insn(BPF_ALU | BPF_MOV | BPF_K, BPF_REG_0, 0, 0, rule->allow ? 1 : 0));
    block.push_back(insn(BPF_JMP | BPF_EXIT, 0, 0, 0, 0));
    for (size_t at : exits) block[at].off = static_cast<short>(block.size() - at - 1);
    prog.insert(prog.end(), block.begin(), block.end());
    // A rule that matches everything ("a *:* rwm") decides every request: the rules before it
    // in the list can never be reached, and the verifier refuses unreachable instructions.
    if (exits.empty()) return prog;
  }
  // No rule matched: refused.
  prog.push_back(insn(BPF_ALU | BPF_MOV | BPF_K, BPF_REG_0, 0, 0, 0));
  prog.push_back(insn(BPF_JMP | BPF_EXIT, 0, 0, 0, 0));
  return prog;
}

void attach_device_filter(const std::string& dir, const std::vector<DeviceRule>& rules) {
  const std::vector<BpfInsn> prog = device_filter_program(rules);
  std::vector<char> log(64 * 1024);
  static const char license[] = "GPL";
  bpf_attr load;
  std::memset(&load, 0, sizeof load);
  load.prog_type = BPF_PROG_TYPE_CGROUP_DEVICE;
  load.insns = reinterpret_cast<uintptr_t>(prog.data());
  load.insn_cnt = static_cast<__u32>(prog.size());
  load.license = reinterpret_cast<uintptr_t>(license);
  load.log_buf = reinterpret_cast<uintptr_t>(log.data());
  load.log_size = static_cast<__u32>(log.size());
  load.log_level = 1;
  const int prog_fd = static_cast<int>(bpf(BPF_PROG_LOAD, &load));
  if (prog_fd == -1) {
    const int err = errno;
    std::string verifier = lab::trim(std::string(log.data()));
    if (verifier.size() > 400) verifier = "..." + verifier.substr(verifier.size() - 400);
    throw lab::SyscallError(
        err, fmt::format("bpf(BPF_PROG_LOAD, {{BPF_PROG_TYPE_CGROUP_DEVICE, {} insns}}){}",
                         prog.size(), verifier.empty() ? "" : " [verifier: " + verifier + "]"));
  }
  lab::UniqueFd program(prog_fd);
  lab::UniqueFd cgroup = lab::open_fd(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  bpf_attr attach;
  std::memset(&attach, 0, sizeof attach);
  attach.target_fd = static_cast<__u32>(cgroup.get());
  attach.attach_bpf_fd = static_cast<__u32>(program.get());
  attach.attach_type = BPF_CGROUP_DEVICE;
  attach.attach_flags = BPF_F_ALLOW_MULTI;
  lab::check(bpf(BPF_PROG_ATTACH, &attach), [&] {
    return fmt::format("bpf(BPF_PROG_ATTACH, {{{}, BPF_CGROUP_DEVICE, BPF_F_ALLOW_MULTI}})",
                       lab::quote(dir));
  });
  // Closing the program's fd is fine: the cgroup holds the program until it is removed.
}

// --- the owner -----------------------------------------------------------------------------------

Cgroup::Cgroup(Cgroup&& other) noexcept
    : path_(std::move(other.path_)),
      places_(std::exchange(other.places_, {})),
      grants_(std::exchange(other.grants_, {})),
      grants_made_(std::exchange(other.grants_made_, {})),
      steps_(std::move(other.steps_)),
      owned_(std::exchange(other.owned_, false)) {}

Cgroup& Cgroup::operator=(Cgroup&& other) noexcept {
  if (this != &other) {
    remove_quietly();
    path_ = std::move(other.path_);
    places_ = std::exchange(other.places_, {});
    grants_ = std::exchange(other.grants_, {});
    grants_made_ = std::exchange(other.grants_made_, {});
    steps_ = std::move(other.steps_);
    owned_ = std::exchange(other.owned_, false);
  }
  return *this;
}

void Cgroup::record(const FileWrite& w) { steps_.emplace_back(w.call(), w.shell()); }

void Cgroup::write(const std::string& file, const std::string& value) {
  lab::write_file(file, value);
  record({file, value});
}

Cgroup Cgroup::create(const std::string& cgroups_path, const Resources& resources) {
  if (std::string why = validate_path(cgroups_path); !why.empty()) throw lab::UserError(why);
  if (std::string why = validate(resources); !why.empty()) throw lab::UserError(why);
  const lab::host::CgroupLayout layout = lab::host::detect_cgroups();
  if (layout.mode == lab::host::CgroupMode::none)
    throw lab::UserError("no cgroup filesystem is mounted; see `make doctor`");

  Cgroup cg;
  cg.path_ = cgroups_path;
  cg.owned_ = true;
  for (const Hierarchy& h : hierarchies_for(layout)) cg.make_in(h);
  cg.apply(resources);
  return cg;  // on a throw above, cg's destructor removes what was made
}

// mkdir each missing component of the path in one tree. v2 ancestors first hand the leaf's
// controllers down; v1 cpuset ancestors and the leaf copy cpuset.cpus/mems from their parent,
// because a v1 cpuset cgroup starts with none and refuses processes (ENOSPC) until it has some.
void Cgroup::make_in(const Hierarchy& h) {
  // Registered before the first mkdir, so that a failure halfway undoes this tree too.
  places_.push_back({h, h.root + path_, {}});
  const bool hands_down = h.version == Version::v2 && h.name == "unified" &&
                          std::any_of(kV2Controllers.begin(), kV2Controllers.end(),
                                      [&](const std::string& c) { return has(h.controllers, c); });
  // (v2's cpuset starts from its parent's CPUs by itself, and its leaf gets no cpuset files
  // unless a parent hands cpuset down.)
  const bool cpuset = h.version == Version::v1 && has(h.controllers, "cpuset");
  std::string parent = h.root;
  for (const std::string& prefix : prefixes(path_)) {
    const std::string dir = h.root + prefix;
    const bool leaf = prefix == path_;
    if (hands_down) {
      const std::string offered = lab::read_file(parent + "/cgroup.controllers");
      for (const std::string& c : kV2Controllers) {
        if (!lab::controller_listed(offered, c)) continue;
        lab::SubtreeControl grant = lab::SubtreeControl::enable(parent, c);
        if (!grant.was_enabled_already()) {
          record({parent + "/cgroup.subtree_control", "+" + c});
          grants_made_.emplace_back(parent, c);
        }
        grants_.push_back(std::move(grant));
      }
    }
    if (::mkdir(dir.c_str(), 0755) == 0) {
      places_.back().created.push_back(dir);
      steps_.emplace_back(mkdir_call(dir), "mkdir " + dir);
    } else if (errno == EEXIST && leaf) {
      throw lab::UserError(fmt::format(
          "cgroup {} already exists: another container uses this cgroupsPath, or an earlier "
          "one left it behind (rmdir it when it holds no processes)",
          dir));
    } else if (errno != EEXIST) {
      lab::check(-1, [&] { return mkdir_call(dir); });
    }
    if (cpuset) {
      for (const char* file : {"cpuset.cpus", "cpuset.mems"}) {
        const std::string mine = fmt::format("{}/{}", dir, file);
        if (!lab::trim(lab::read_file(mine)).empty()) continue;
        write(mine, lab::trim(lab::read_file(fmt::format("{}/{}", parent, file))));
      }
    }
    parent = dir;
  }
}

void Cgroup::apply(const Resources& r) {
  if (r.cpu_quota || r.cpu_period || r.cpu_shares) {
    const std::string dir = path_in("cpu");
    if (dir.empty())
      throw lab::UserError(
          "linux.resources.cpu needs the cpu controller, which this host's cgroups do not offer");
    const Version v = version_of("cpu");
    try {
      if (r.cpu_quota || r.cpu_period) {
        cgroup::CpuLimit limit;
        if (r.cpu_quota && *r.cpu_quota > 0) limit.quota_us = *r.cpu_quota;
        if (r.cpu_period && *r.cpu_period > 0) limit.period_us = *r.cpu_period;
        const cgroup::CpuFiles files = cgroup::files_for(v);
        const long long period_before =
            v == Version::v1 ? cgroup::read_cpu_limit(dir, v).period_us : 0;
        cgroup::set_cpu_limit(dir, v, limit);
        if (v == Version::v2) {
          record({fmt::format("{}/{}", dir, files.quota), cgroup::format_cpu_max(limit)});
        } else {
          if (period_before != limit.period_us)
            record({fmt::format("{}/{}", dir, files.period), std::to_string(limit.period_us)});
          record({fmt::format("{}/{}", dir, files.quota), std::to_string(limit.quota_us)});
        }
      }
      if (r.cpu_shares && *r.cpu_shares != 0) {
        // v2 has no shares: OCI's 2..262144 are mapped onto cpu.weight's 1..10000.
        const long long weight =
            v == Version::v1 ? *r.cpu_shares : cgroup::shares_to_weight(*r.cpu_shares);
        cgroup::set_cpu_weight(dir, v, weight);
        record({fmt::format("{}/{}", dir, cgroup::files_for(v).weight), std::to_string(weight)});
      }
    } catch (const lab::SyscallError& e) {
      if (e.code().value() == EINVAL) explain_cpu_einval(e);
      throw;
    }
  }
  if (r.memory_limit || r.memory_swap) {
    const std::string dir = path_in("memory");
    if (dir.empty())
      throw lab::UserError(
          "linux.resources.memory needs the memory controller, which this host's cgroups do not "
          "offer");
    for (const FileWrite& w : cgroup::set_memory_limit(dir, version_of("memory"),
                                                       r.memory_limit.value_or(-1), r.memory_swap))
      record(w);
  }
  if (r.pids_limit) {
    const std::string dir = path_in("pids");
    if (dir.empty())
      throw lab::UserError(
          "linux.resources.pids needs the pids controller, which this host's cgroups do not "
          "offer");
    for (const FileWrite& w : cgroup::set_pids_limit(dir, *r.pids_limit)) record(w);
  }
  if (!r.devices.empty()) apply_devices(r.devices);
}

void Cgroup::apply_devices(const std::vector<DeviceRule>& rules) {
  const std::string dir = path_in("devices");
  if (!dir.empty() && version_of("devices") == Version::v1) {
    for (const FileWrite& w : v1_device_writes(dir, rules)) write(w.file, w.value);
    return;
  }
  const std::string unified = path_in("unified");
  if (unified.empty())
    throw lab::UserError(
        "linux.resources.devices needs the devices controller (v1) or a cgroup v2 tree for a BPF "
        "device program; this host has neither");
  attach_device_filter(unified, rules);
  steps_.emplace_back(
      fmt::format("bpf(BPF_PROG_LOAD, {{BPF_PROG_TYPE_CGROUP_DEVICE, {} insns}}), "
                  "bpf(BPF_PROG_ATTACH, {{{}, BPF_CGROUP_DEVICE, BPF_F_ALLOW_MULTI}})",
                  device_filter_program(rules).size(), lab::quote(unified)),
      fmt::format("bpftool cgroup attach {} device <the program> multi  # v2 has no devices files",
                  unified));
}

Cgroup Cgroup::open(const std::string& cgroups_path,
                    std::vector<std::pair<std::string, std::string>> grants) {
  if (std::string why = validate_path(cgroups_path); !why.empty()) throw lab::UserError(why);
  Cgroup cg;
  cg.path_ = cgroups_path;
  cg.owned_ = true;
  cg.grants_made_ = std::move(grants);
  // Only minidocker makes /minidocker, so an empty one may go with its last container.
  const bool ours = cgroups_path.starts_with("/minidocker/");
  for (const Hierarchy& h : hierarchies_for(lab::host::detect_cgroups())) {
    Place place{h, h.root + cgroups_path, {}};
    if (!exists(place.dir)) continue;
    if (ours) place.created.push_back(h.root + "/minidocker");
    place.created.push_back(place.dir);
    cg.places_.push_back(std::move(place));
  }
  return cg;
}

void Cgroup::add_process(pid_t pid) {
  for (const Place& p : places_) write(p.dir + "/cgroup.procs", std::to_string(pid));
}

void Cgroup::add_process_to_v2(pid_t pid) {
  for (const Place& p : places_)
    if (p.hierarchy.version == cgroup::Version::v2)
      write(p.dir + "/cgroup.procs", std::to_string(pid));
}

lab::UniqueFd Cgroup::open_for_clone() const {
  const Place* v2 = nullptr;
  for (const Place& p : places_) {
    if (p.hierarchy.version != cgroup::Version::v2) continue;
    if (v2) return {};  // two v2 trees: clone3 takes one cgroup
    v2 = &p;
  }
  if (!v2) return {};
  return lab::open_fd(v2->dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
}

std::vector<std::string> Cgroup::self_join_files() const {
  std::vector<std::string> files;
  for (const Place& p : places_)
    if (p.hierarchy.version == cgroup::Version::v1) files.push_back(p.dir + "/tasks");
  return files;
}

void join_self(const std::vector<std::string>& files) {
  for (const std::string& file : files) lab::write_file(file, "0");
}

const Cgroup::Place* Cgroup::place_with(const std::string& controller) const {
  for (const Place& p : places_) {
    if (controller == "unified" ? p.hierarchy.name == "unified"
                                : has(p.hierarchy.controllers, controller))
      return &p;
  }
  return nullptr;
}

std::string Cgroup::path_in(const std::string& controller) const {
  const Place* p = place_with(controller);
  return p ? p->dir : "";
}

Version Cgroup::version_of(const std::string& controller) const {
  const Place* p = place_with(controller);
  return p ? p->hierarchy.version : Version::v2;
}

std::vector<std::string> Cgroup::paths() const {
  std::vector<std::string> out;
  for (const Place& p : places_) out.push_back(p.dir);
  return out;
}

std::vector<pid_t> Cgroup::processes() const {
  for (const char* controller : {"pids", "freezer", "unified"}) {
    if (const Place* p = place_with(controller))
      return lab::parse_pid_list(lab::read_file(p->dir + "/cgroup.procs"));
  }
  if (places_.empty()) return {};
  return lab::parse_pid_list(lab::read_file(places_.front().dir + "/cgroup.procs"));
}

namespace {

// Writes `state` and waits (bounded) until `state_file` shows `done`; a group that does not
// settle is signalled anyway, which is what runc does too.
void freeze_and_wait(const std::string& control, const std::string& state,
                     const std::string& state_file, const std::string& done) {
  lab::write_file(control, state);
  for (int i = 0; i < kFreezeAttempts; ++i) {
    if (lab::read_file_or_empty(state_file).find(done) != std::string::npos) return;
    ::usleep(1000);
  }
}

}  // namespace

void Cgroup::kill_all(int signal) {
  const Place* unified = place_with("unified");
  if (signal == SIGKILL && unified && exists(unified->dir + "/cgroup.kill")) {
    // The kernel kills every process of the group and of its descendants in one step, and
    // nothing can fork past it.
    write(unified->dir + "/cgroup.kill", "1");
    return;
  }
  // Otherwise: freeze, signal each PID, thaw. A v1 freezer or v2's core cgroup.freeze.
  std::string thaw_file, thaw_value;
  try {
    if (const Place* f = place_with("freezer"); f && f->hierarchy.version == Version::v1) {
      freeze_and_wait(f->dir + "/freezer.state", "FROZEN", f->dir + "/freezer.state", "FROZEN");
      thaw_file = f->dir + "/freezer.state";
      thaw_value = "THAWED";
    } else if (unified && exists(unified->dir + "/cgroup.freeze")) {
      freeze_and_wait(unified->dir + "/cgroup.freeze", "1", unified->dir + "/cgroup.events",
                      "frozen 1");
      thaw_file = unified->dir + "/cgroup.freeze";
      thaw_value = "0";
    }
  } catch (const lab::SyscallError&) {
    // Not frozen: the signals still go out, with the small fork race runc accepts there too.
  }
  for (pid_t pid : processes()) {
    if (::kill(pid, signal) == -1 && errno != ESRCH)
      lab::check(-1, [&] { return fmt::format("kill({}, {})", pid, ::sigabbrev_np(signal)); });
  }
  if (!thaw_file.empty()) lab::write_file(thaw_file, thaw_value);
}

void Cgroup::freeze() {
  const Place* unified = place_with("unified");
  std::string control, value, state_file, done, thaw_value;
  if (const Place* f = place_with("freezer"); f && f->hierarchy.version == Version::v1) {
    control = state_file = f->dir + "/freezer.state";
    value = done = "FROZEN";
    thaw_value = "THAWED";
  } else if (unified && exists(unified->dir + "/cgroup.freeze")) {
    control = unified->dir + "/cgroup.freeze";
    value = "1";
    state_file = unified->dir + "/cgroup.events";
    done = "frozen 1";
    thaw_value = "0";
  } else {
    throw lab::UserError(fmt::format(
        "cgroup {}: no freezer (v1 freezer controller, or v2's cgroup.freeze): cannot pause",
        path_));
  }
  write(control, value);
  // v1 passes through FREEZING while tasks are still being stopped; v2 flips "frozen 1" in
  // cgroup.events once every task is.
  for (int i = 0; i < kFreezeAttempts; ++i) {
    if (lab::read_file_or_empty(state_file).find(done) != std::string::npos) return;
    ::usleep(1000);
  }
  lab::write_file(control, thaw_value);
  throw lab::UserError(fmt::format("{}: the kernel did not report {} in time", state_file, done));
}

void Cgroup::thaw() {
  if (const Place* f = place_with("freezer"); f && f->hierarchy.version == Version::v1) {
    write(f->dir + "/freezer.state", "THAWED");
  } else if (const Place* unified = place_with("unified");
             unified && exists(unified->dir + "/cgroup.freeze")) {
    write(unified->dir + "/cgroup.freeze", "0");
  } else {
    throw lab::UserError(fmt::format("cgroup {}: no freezer: cannot resume", path_));
  }
}

void Cgroup::remove() {
  if (!owned_) return;
  std::exception_ptr first_error;
  for (auto place = places_.rbegin(); place != places_.rend(); ++place) {
    for (auto dir = place->created.rbegin(); dir != place->created.rend(); ++dir) {
      const bool leaf = *dir == place->dir;
      int attempt = 0;
      // A killed process leaves its cgroup only when the kernel has finished its exit: EBUSY
      // until then. Bounded: a process that does not die makes remove() fail, not hang.
      while (::rmdir(dir->c_str()) == -1) {
        if (errno == ENOENT) break;
        if (!leaf && (errno == EBUSY || errno == ENOTEMPTY)) break;  // another container's
        if (errno != EBUSY || ++attempt >= kRemoveAttempts) {
          try {
            lab::check(-1, [&] { return fmt::format("rmdir({})", lab::quote(*dir)); });
          } catch (...) {
            if (!first_error) first_error = std::current_exception();
          }
          break;
        }
        ::usleep(10 * 1000);
      }
    }
  }
  // The grants go last: SubtreeControl only takes one back once no child cgroup is left.
  for (auto grant = grants_.rbegin(); grant != grants_.rend(); ++grant) grant->restore();
  if (grants_.empty()) {
    // open()ed: create's grants came from state.json. The same rule as SubtreeControl's: the
    // kernel would let "-cpu" through while a child cgroup still uses cpu, so only a directory
    // with no child cgroup left gets it back; best effort, like the rest of the cleanup.
    for (auto grant = grants_made_.rbegin(); grant != grants_made_.rend(); ++grant) {
      const auto& [dir, controller] = *grant;
      if (has_child_cgroup(dir)) continue;
      try {
        lab::write_file(dir + "/cgroup.subtree_control", "-" + controller);
      } catch (const lab::SyscallError&) {
        // Another cgroup may have been made below meanwhile: then the grant must stay.
      }
    }
  }
  grants_.clear();
  grants_made_.clear();
  places_.clear();
  owned_ = false;
  if (first_error) std::rethrow_exception(first_error);
}

void Cgroup::remove_quietly() noexcept {
  try {
    remove();
  } catch (...) {
  }
}

void Cgroup::release() {
  for (lab::SubtreeControl& grant : grants_) grant.release();
  grants_.clear();
  owned_ = false;
}

}  // namespace runtime::cgroups
