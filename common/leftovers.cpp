#include "leftovers.hpp"

#include <dirent.h>
#include <fcntl.h>
#include <fmt/format.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <net/if.h>
#include <sched.h>
#include <signal.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <filesystem>
#include <functional>
#include <set>
#include <thread>

#include "cgroup_dir.hpp"
#include "error.hpp"
#include "fd.hpp"
#include "mount.hpp"

namespace lab::leftovers {

namespace fs = std::filesystem;

namespace {

constexpr const char* kSysctlDir = "/run/lab/sysctl";
const std::vector<std::string> kTables = {"filter", "nat"};

// Runs argv (PATH is searched), returns its exit code and, if asked, its stdout. stderr is
// collected into `err` so that a failure can say why.
int run(const std::vector<std::string>& argv, std::string* out = nullptr,
        std::string* err = nullptr) {
  int out_pipe[2], err_pipe[2];
  if (::pipe2(out_pipe, O_CLOEXEC) != 0) return -1;
  if (::pipe2(err_pipe, O_CLOEXEC) != 0) {
    ::close(out_pipe[0]);
    ::close(out_pipe[1]);
    return -1;
  }
  pid_t pid = ::fork();
  if (pid == 0) {
    ::dup2(out_pipe[1], 1);
    ::dup2(err_pipe[1], 2);
    std::vector<char*> args;
    for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
    args.push_back(nullptr);
    ::execvp(args[0], args.data());
    _exit(127);
  }
  ::close(out_pipe[1]);
  ::close(err_pipe[1]);
  UniqueFd o(out_pipe[0]), e(err_pipe[0]);
  if (pid < 0) return -1;
  // Read both pipes to the end (iptables -S output is small, stderr smaller still).
  std::string o_text, e_text;
  char buf[4096];
  for (int fd : {o.get(), e.get()}) {
    std::string& dst = fd == o.get() ? o_text : e_text;
    ssize_t n;
    while ((n = ::read(fd, buf, sizeof buf)) > 0 || (n < 0 && errno == EINTR))
      if (n > 0) dst.append(buf, static_cast<size_t>(n));
  }
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  if (out) *out = o_text;
  if (err) *err = trim(e_text);
  return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

bool command_exists(const std::string& name) {
  std::string path = std::getenv("PATH") ? std::getenv("PATH") : "/usr/sbin:/usr/bin:/sbin:/bin";
  size_t start = 0;
  while (start <= path.size()) {
    size_t end = path.find(':', start);
    if (end == std::string::npos) end = path.size();
    std::string candidate = path.substr(start, end - start) + "/" + name;
    if (::access(candidate.c_str(), X_OK) == 0) return true;
    start = end + 1;
  }
  return false;
}

bool is_digit(char c) { return c >= '0' && c <= '9'; }

ino_t inode_of(const std::string& path) {
  struct stat st {};
  return ::stat(path.c_str(), &st) == 0 ? st.st_ino : 0;
}

// --- cgroups -----------------------------------------------------------------------------------

// One mount per hierarchy and root: a v1 controller hierarchy is often mounted twice (cpu and
// cpu,cpuacct). In a container without a cgroup namespace the root is the container's own cgroup
// (/docker/ID), which is all that can be seen there.
std::vector<std::string> cgroup_mounts() {
  std::vector<std::string> out;
  std::set<std::string> seen;
  for (const auto& m : read_mountinfo()) {
    if (m.fstype != "cgroup" && m.fstype != "cgroup2") continue;
    if (!seen.insert(m.major_minor + " " + m.root).second) continue;
    out.push_back(m.mount_point);
  }
  return out;
}

std::vector<std::string> lab_cgroups() {
  std::vector<std::string> out;
  for (const auto& mount : cgroup_mounts()) {
    std::error_code ec;
    fs::recursive_directory_iterator it(mount, fs::directory_options::skip_permission_denied, ec);
    for (; !ec && it != fs::recursive_directory_iterator(); it.increment(ec)) {
      if (!it->is_directory(ec) || it->is_symlink(ec)) {
        it.disable_recursion_pending();
        continue;
      }
      if (is_lab_name(it->path().filename().string())) {
        out.push_back(it->path().string());
        it.disable_recursion_pending();  // its children go with it
      }
    }
  }
  return out;
}

// The cgroup and every cgroup under it, deepest first (the order rmdir needs).
std::vector<std::string> cgroup_subtree(const std::string& top) {
  std::vector<std::string> dirs = {top};
  std::error_code ec;
  for (fs::recursive_directory_iterator it(top, ec), end; !ec && it != end; it.increment(ec))
    if (it->is_directory(ec) && !it->is_symlink(ec)) dirs.push_back(it->path().string());
  std::sort(dirs.begin(), dirs.end(), [](const std::string& a, const std::string& b) {
    return std::count(a.begin(), a.end(), '/') > std::count(b.begin(), b.end(), '/');
  });
  return dirs;
}

std::vector<pid_t> cgroup_pids(const std::vector<std::string>& dirs) {
  std::vector<pid_t> pids;
  for (const auto& d : dirs)
    for (pid_t p : parse_pid_list(read_file_or_empty(d + "/cgroup.procs"))) pids.push_back(p);
  return pids;
}

void remove_cgroup(const std::string& top) {
  auto dirs = cgroup_subtree(top);
  // cgroup.kill (v2, Linux 5.14) kills the whole subtree at once, including processes forked
  // meanwhile; elsewhere each PID in cgroup.procs gets SIGKILL, until none is left.
  if (::access((top + "/cgroup.kill").c_str(), W_OK) == 0) {
    try {
      write_file(top + "/cgroup.kill", "1");
    } catch (const std::exception&) {
    }
  }
  // A killed process leaves its cgroup when it has exited, a moment after the signal: rmdir says
  // EBUSY until then. Bounded: 10 s.
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  for (const auto& d : dirs) {
    while (true) {
      for (pid_t p : cgroup_pids({d})) ::kill(p, SIGKILL);
      if (::rmdir(d.c_str()) == 0 || errno == ENOENT) break;
      if (errno != EBUSY || std::chrono::steady_clock::now() > deadline)
        check(-1, [&] { return fmt::format("rmdir(\"{}\")", d); });
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
  }
}

// --- /tmp/lab-* ----------------------------------------------------------------------------------

bool under(const std::string& path, const std::string& dir) {
  return path == dir || path.starts_with(dir + "/");
}

std::vector<std::string> mounts_under(const std::string& dir) {
  std::vector<std::string> out;
  for (const auto& m : read_mountinfo())
    if (under(m.mount_point, dir)) out.push_back(m.mount_point);
  return out;
}

std::vector<std::string> lab_temp_dirs() {
  std::vector<std::string> out;
  std::error_code ec;
  for (fs::directory_iterator it("/tmp", ec), end; !ec && it != end; it.increment(ec))
    if (is_lab_name(it->path().filename().string()) && it->is_directory(ec) && !it->is_symlink(ec))
      out.push_back(it->path().string());
  std::sort(out.begin(), out.end());
  return out;
}

// Removes everything under the directory open at `dirfd` that is on device `dev`: what another
// filesystem holds (a mount that could not be detached) is left alone, as rm --one-file-system.
void remove_contents(int dirfd, dev_t dev, const std::string& path) {
  UniqueFd dup(::dup(dirfd));
  DIR* d = ::fdopendir(dup.release());
  if (!d) check(-1, [&] { return fmt::format("opendir(\"{}\")", path); });
  std::vector<std::string> names;
  while (dirent* e = ::readdir(d)) {
    std::string n = e->d_name;
    if (n != "." && n != "..") names.push_back(n);
  }
  ::closedir(d);
  for (const auto& n : names) {
    struct stat st {};
    if (::fstatat(dirfd, n.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0) continue;
    std::string child = path + "/" + n;
    if (st.st_dev != dev) continue;
    if (S_ISDIR(st.st_mode)) {
      UniqueFd sub(::openat(dirfd, n.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
      if (!sub) check(-1, [&] { return fmt::format("open(\"{}\")", child); });
      remove_contents(sub.get(), dev, child);
      check(::unlinkat(dirfd, n.c_str(), AT_REMOVEDIR),
            [&] { return fmt::format("rmdir(\"{}\")", child); });
    } else {
      check(::unlinkat(dirfd, n.c_str(), 0), [&] { return fmt::format("unlink(\"{}\")", child); });
    }
  }
}

void remove_temp_dir(const std::string& dir) {
  // Deepest mount first; several mounts stacked on one point come off one by one. Bounded by the
  // number of mounts seen at the start, so a mount that will not go cannot loop us.
  auto mounts = mounts_under(dir);
  for (size_t round = 0; round <= mounts.size() && !mounts.empty(); ++round) {
    auto deepest = std::max_element(mounts.begin(), mounts.end(), [](auto& a, auto& b) {
      return std::count(a.begin(), a.end(), '/') < std::count(b.begin(), b.end(), '/');
    });
    check(::umount2(deepest->c_str(), MNT_DETACH),
          [&] { return fmt::format("umount2(\"{}\", MNT_DETACH)", *deepest); });
    mounts = mounts_under(dir);
  }
  UniqueFd top(::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
  if (!top) {
    if (errno == ENOENT) return;
    check(-1, [&] { return fmt::format("open(\"{}\")", dir); });
  }
  struct stat st {};
  check(::fstat(top.get(), &st), [&] { return fmt::format("fstat(\"{}\")", dir); });
  remove_contents(top.get(), st.st_dev, dir);
  check(::rmdir(dir.c_str()), [&] { return fmt::format("rmdir(\"{}\")", dir); });
}

// --- links -------------------------------------------------------------------------------------

std::vector<std::string> lab_links() {
  // if_nameindex asks the kernel over netlink, so it lists the current network namespace's links
  // (/sys/class/net would show the namespace that mounted /sys instead).
  std::vector<std::string> out;
  if (struct if_nameindex* all = ::if_nameindex()) {
    for (auto* i = all; i->if_index != 0; ++i)
      if (is_lab_name(i->if_name)) out.push_back(i->if_name);
    ::if_freenameindex(all);
  }
  std::sort(out.begin(), out.end());
  return out;
}

// What `ip link del NAME` sends: one RTM_DELLINK for the link's index, and the kernel's ack.
void delete_link(const std::string& name) {
  unsigned index = ::if_nametoindex(name.c_str());
  if (index == 0) return;  // gone already (the peer of a veth pair deleted before it)
  UniqueFd sock(check(::socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE),
                      "socket(AF_NETLINK, SOCK_RAW, NETLINK_ROUTE)"));
  struct {
    nlmsghdr header;
    ifinfomsg link;
  } request{};
  request.header.nlmsg_len = NLMSG_LENGTH(sizeof(ifinfomsg));
  request.header.nlmsg_type = RTM_DELLINK;
  request.header.nlmsg_flags = NLM_F_REQUEST | NLM_F_ACK;
  request.header.nlmsg_seq = 1;
  request.link.ifi_family = AF_UNSPEC;
  request.link.ifi_index = static_cast<int>(index);
  auto call = [&] { return fmt::format("netlink RTM_DELLINK {} (index {})", name, index); };
  check(::send(sock.get(), &request, request.header.nlmsg_len, 0), call);
  char reply[4096];
  ssize_t n = check(::recv(sock.get(), reply, sizeof reply, 0), call);
  auto* h = reinterpret_cast<nlmsghdr*>(reply);
  if (n >= static_cast<ssize_t>(NLMSG_LENGTH(sizeof(nlmsgerr))) && h->nlmsg_type == NLMSG_ERROR) {
    int err = -reinterpret_cast<nlmsgerr*>(NLMSG_DATA(h))->error;
    if (err != 0 && err != ENODEV) throw SyscallError(err, call());
  }
}

// --- named network namespaces ------------------------------------------------------------------

std::vector<std::string> lab_named_netns() {
  std::vector<std::string> out;
  std::error_code ec;
  for (fs::directory_iterator it("/run/netns", ec), end; !ec && it != end; it.increment(ec))
    if (is_lab_name(it->path().filename().string())) out.push_back(it->path().string());
  std::sort(out.begin(), out.end());
  return out;
}

void delete_named_netns(const std::string& path) {
  // The file holds the namespace by a bind mount of /proc/PID/ns/net; detach it, then unlink.
  if (::umount2(path.c_str(), MNT_DETACH) != 0 && errno != EINVAL && errno != ENOENT)
    check(-1, [&] { return fmt::format("umount2(\"{}\", MNT_DETACH)", path); });
  if (::unlink(path.c_str()) != 0 && errno != ENOENT)
    check(-1, [&] { return fmt::format("unlink(\"{}\")", path); });
}

// --- iptables ----------------------------------------------------------------------------------

struct RuleLeftover {
  Leftover leftover;
  std::vector<std::string> argv;
};

struct IptablesLeftovers {
  std::vector<RuleLeftover> rules;                          // in built-in or other chains
  std::vector<std::pair<std::string, std::string>> chains;  // table, LAB-* chain
};

IptablesLeftovers lab_iptables() {
  IptablesLeftovers out;
  if (!command_exists("iptables")) return out;
  for (const auto& table : kTables) {
    std::string text;
    if (run({"iptables", "-w", "-t", table, "-S"}, &text) != 0) continue;
    size_t start = 0;
    while (start < text.size()) {
      size_t end = text.find('\n', start);
      if (end == std::string::npos) end = text.size();
      std::string line = text.substr(start, end - start);
      start = end + 1;
      if (auto chain = lab_chain(line)) {
        out.chains.emplace_back(table, *chain);
      } else if (auto argv = lab_rule_delete_command(table, line)) {
        out.rules.push_back({{"iptables-rule", fmt::format("{}: {}", table, line),
                              fmt::format("firewall rule in the {} table, made by a lesson", table),
                              shell_join(*argv)},
                             *argv});
      }
    }
  }
  return out;
}

Leftover chain_leftover(const std::string& table, const std::string& chain) {
  return {"iptables-chain", fmt::format("{}: {}", table, chain),
          fmt::format("firewall chain in the {} table, made by a lesson (flushed, then deleted)",
                      table),
          fmt::format("iptables -t {} -F {} && iptables -t {} -X {}", table, chain, table, chain)};
}

void run_checked(const std::vector<std::string>& argv) {
  std::string err;
  int rc = run(argv, nullptr, &err);
  if (rc != 0)
    throw std::runtime_error(
        fmt::format("{}: exit {}{}", shell_join(argv), rc, err.empty() ? "" : ": " + err));
}

// --- saved sysctls -----------------------------------------------------------------------------

struct SavedSysctl {
  std::string file;  // /run/lab/sysctl/<inode>/<key>
  std::string key;
  std::string saved_value;
  ino_t netns = 0;
  std::string netns_path;  // "" when that namespace is gone; "/proc/self/ns/net" when it is ours
};

// A path that holds the network namespace with this inode: ours, a named one, or a process's.
std::string find_netns(ino_t inode) {
  if (inode_of("/proc/self/ns/net") == inode) return "/proc/self/ns/net";
  std::error_code ec;
  for (fs::directory_iterator it("/run/netns", ec), end; !ec && it != end; it.increment(ec))
    if (inode_of(it->path().string()) == inode) return it->path().string();
  for (fs::directory_iterator it("/proc", ec), end; !ec && it != end; it.increment(ec)) {
    std::string name = it->path().filename().string();
    if (name.empty() || !std::all_of(name.begin(), name.end(), is_digit)) continue;
    std::string path = it->path().string() + "/ns/net";
    if (inode_of(path) == inode) return path;
  }
  return "";
}

std::vector<SavedSysctl> saved_sysctls() {
  std::vector<SavedSysctl> out;
  std::error_code ec;
  for (fs::directory_iterator ns(kSysctlDir, ec), end; !ec && ns != end; ns.increment(ec)) {
    std::string inode_text = ns->path().filename().string();
    if (inode_text.empty() || !std::all_of(inode_text.begin(), inode_text.end(), is_digit))
      continue;
    auto inode = static_cast<ino_t>(std::stoull(inode_text));
    std::string where = find_netns(inode);
    std::error_code ec2;
    for (fs::directory_iterator f(ns->path(), ec2); !ec2 && f != end; f.increment(ec2))
      out.push_back({f->path().string(), f->path().filename().string(),
                     trim(read_file_or_empty(f->path().string())), inode, where});
  }
  return out;
}

Leftover sysctl_leftover(const SavedSysctl& s) {
  std::string rm = fmt::format("rm {}", shell_quote(s.file));
  if (s.netns_path.empty())
    return {"sysctl", s.file,
            fmt::format("{} saved as {} for network namespace {}, which is gone (nothing to "
                        "restore)",
                        s.key, s.saved_value, s.netns),
            rm};
  std::string set = fmt::format("sysctl -w {}={}", s.key, s.saved_value);
  if (s.netns_path == "/proc/self/ns/net") {
    std::string now = sysctl_path(s.key) ? trim(read_file_or_empty(*sysctl_path(s.key))) : "";
    return {"sysctl", s.file,
            fmt::format("{} was {} before a lesson changed it (now {}), in this network namespace",
                        s.key, s.saved_value, now.empty() ? "?" : now),
            fmt::format("{} && {}", set, rm)};
  }
  return {"sysctl", s.file,
          fmt::format("{} was {} before a lesson changed it, in network namespace {} ({})", s.key,
                      s.saved_value, s.netns, s.netns_path),
          fmt::format("nsenter --net={} {} && {}", s.netns_path, set, rm)};
}

// /proc/sys/net/... belongs to the network namespace of the process that opens it, so the value
// is written by a child that has joined that namespace first (setns), as nsenter would.
void restore_sysctl(const SavedSysctl& s) {
  auto path = sysctl_path(s.key);
  if (!path) throw std::runtime_error(fmt::format("{} is not a sysctl name", s.key));
  if (!s.netns_path.empty()) {
    if (s.netns_path == "/proc/self/ns/net") {
      write_file(*path, s.saved_value);
    } else {
      UniqueFd ns = open_fd(s.netns_path, O_RDONLY | O_CLOEXEC);
      pid_t pid = check(::fork(), "fork()");
      if (pid == 0) {
        int ok = ::setns(ns.get(), CLONE_NEWNET) == 0;
        try {
          if (ok) write_file(*path, s.saved_value);
        } catch (const std::exception&) {
          ok = 0;
        }
        _exit(ok ? 0 : 1);
      }
      int status = 0;
      while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
      }
      if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
        throw std::runtime_error(fmt::format("could not write {} in {}", *path, s.netns_path));
    }
  }
  check(::unlink(s.file.c_str()), [&] { return fmt::format("unlink(\"{}\")", s.file); });
  ::rmdir(fs::path(s.file).parent_path().c_str());  // the namespace's folder, once empty
}

}  // namespace

bool is_lab_name(std::string_view name) { return name == "lab0" || name.starts_with("lab-"); }

std::vector<std::string> split_iptables_words(std::string_view line) {
  std::vector<std::string> words;
  std::string word;
  bool in_word = false, quoted = false;
  for (size_t i = 0; i < line.size(); ++i) {
    char c = line[i];
    if (quoted) {
      if (c == '\\' && i + 1 < line.size() && (line[i + 1] == '"' || line[i + 1] == '\\')) {
        word += line[++i];
      } else if (c == '"') {
        quoted = false;
      } else {
        word += c;
      }
    } else if (c == '"') {
      quoted = in_word = true;
    } else if (c == ' ' || c == '\t' || c == '\n') {
      if (in_word) words.push_back(std::move(word));
      word.clear();
      in_word = false;
    } else {
      word += c;
      in_word = true;
    }
  }
  if (in_word) words.push_back(std::move(word));
  return words;
}

std::string shell_quote(std::string_view word) {
  bool plain = !word.empty() && std::all_of(word.begin(), word.end(), [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) || std::strchr("-_./:=,+%@", c);
  });
  if (plain) return std::string(word);
  std::string out = "'";
  for (char c : word) out += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return out + "'";
}

std::string shell_join(const std::vector<std::string>& words) {
  std::string out;
  for (const auto& w : words) out += (out.empty() ? "" : " ") + shell_quote(w);
  return out;
}

std::optional<std::vector<std::string>> lab_rule_delete_command(std::string_view table,
                                                                std::string_view line) {
  auto words = split_iptables_words(line);
  if (words.size() < 3 || words[0] != "-A") return std::nullopt;
  if (words[1].starts_with("LAB-")) return std::nullopt;  // goes with its chain
  bool ours = false;
  for (size_t i = 2; i + 1 < words.size(); ++i) {
    if (words[i] == "--comment" && words[i + 1].starts_with("lab-")) ours = true;
    if ((words[i] == "-j" || words[i] == "-g") && words[i + 1].starts_with("LAB-")) ours = true;
  }
  if (!ours) return std::nullopt;
  std::vector<std::string> argv = {"iptables", "-w", "-t", std::string(table), "-D"};
  argv.insert(argv.end(), words.begin() + 1, words.end());
  return argv;
}

std::optional<std::string> lab_chain(std::string_view line) {
  auto words = split_iptables_words(line);
  if (words.size() == 2 && words[0] == "-N" && words[1].starts_with("LAB-")) return words[1];
  return std::nullopt;
}

std::optional<std::string> sysctl_path(std::string_view key) {
  if (key.empty() || key.front() == '.' || key.back() == '.' ||
      key.find("..") != std::string_view::npos)
    return std::nullopt;
  std::string path = "/proc/sys/";
  for (char c : key) {
    if (c == '.') {
      path += '/';
    } else if (std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '-') {
      path += c;
    } else {
      return std::nullopt;
    }
  }
  return path;
}

std::vector<Leftover> find() {
  std::vector<Leftover> out;
  for (const auto& cg : lab_cgroups()) {
    auto pids = cgroup_pids(cgroup_subtree(cg));
    std::string q = shell_quote(cg);
    if (pids.empty())
      out.push_back({"cgroup", cg, "cgroup made by a lesson, empty", fmt::format("rmdir {}", q)});
    else
      out.push_back({"cgroup", cg,
                     fmt::format("cgroup made by a lesson, {} process(es) still in it (killed "
                                 "first)",
                                 pids.size()),
                     fmt::format("kill -KILL $(cat {}/cgroup.procs); rmdir {}", q, q)});
  }
  for (const auto& dir : lab_temp_dirs()) {
    auto mounts = mounts_under(dir);
    std::string umounts;
    for (auto it = mounts.rbegin(); it != mounts.rend(); ++it)
      umounts += fmt::format("umount -l {}; ", shell_quote(*it));
    out.push_back({"dir", dir,
                   mounts.empty() ? std::string("temporary directory of a lesson")
                                  : fmt::format("temporary directory of a lesson, {} mount(s) "
                                                "under it (detached first)",
                                                mounts.size()),
                   umounts + fmt::format("rm -rf --one-file-system {}", shell_quote(dir))});
  }
  for (const auto& link : lab_links())
    out.push_back({"link", link, "network link made by a lesson, in this network namespace",
                   fmt::format("ip link del {}", shell_quote(link))});
  for (const auto& ns : lab_named_netns()) {
    std::string name = fs::path(ns).filename().string();
    out.push_back({"netns", ns, "named network namespace made by a lesson",
                   fmt::format("ip netns delete {}", shell_quote(name))});
  }
  auto ipt = lab_iptables();
  for (const auto& r : ipt.rules) out.push_back(r.leftover);
  for (const auto& [table, chain] : ipt.chains) out.push_back(chain_leftover(table, chain));
  for (const auto& s : saved_sysctls()) out.push_back(sysctl_leftover(s));
  return out;
}

CleanResult clean() {
  CleanResult result;
  auto attempt = [&](const Leftover& l, const std::function<void()>& remove) {
    try {
      remove();
      result.removed.push_back(l);
    } catch (const std::exception& e) {
      result.failed.push_back({l, e.what()});
    }
  };
  // Processes first (they may hold mounts, links and namespaces), then what they held.
  for (const auto& l : find()) {
    if (l.kind == "cgroup") attempt(l, [&] { remove_cgroup(l.name); });
  }
  for (const auto& l : find()) {
    if (l.kind == "dir") attempt(l, [&] { remove_temp_dir(l.name); });
    if (l.kind == "link") attempt(l, [&] { delete_link(l.name); });
    if (l.kind == "netns") attempt(l, [&] { delete_named_netns(l.name); });
  }
  // Rules that jump to a LAB-* chain must go before the chain can be deleted.
  auto ipt = lab_iptables();
  for (const auto& r : ipt.rules) attempt(r.leftover, [&] { run_checked(r.argv); });
  for (const auto& [table, chain] : ipt.chains)
    attempt(chain_leftover(table, chain), [&] {
      run_checked({"iptables", "-w", "-t", table, "-F", chain});
    });
  for (const auto& [table, chain] : ipt.chains) {
    auto l = chain_leftover(table, chain);
    auto failed = std::find_if(result.failed.begin(), result.failed.end(),
                               [&](const Failure& f) { return f.leftover.name == l.name; });
    if (failed != result.failed.end()) continue;
    // Flushed above; now delete it (-X), and count it once.
    result.removed.erase(std::remove_if(result.removed.begin(), result.removed.end(),
                                        [&](const Leftover& r) { return r.name == l.name; }),
                         result.removed.end());
    attempt(l, [&] { run_checked({"iptables", "-w", "-t", table, "-X", chain}); });
  }
  for (const auto& s : saved_sysctls()) attempt(sysctl_leftover(s), [&] { restore_sysctl(s); });
  return result;
}

}  // namespace lab::leftovers
