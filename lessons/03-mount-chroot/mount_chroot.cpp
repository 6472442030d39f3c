#include "mount_chroot.hpp"

#include <fcntl.h>
#include <fmt/format.h>
#include <fmt/ranges.h>
#include <sys/mount.h>
#include <sys/sendfile.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <csignal>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>

#include "error.hpp"
#include "fd.hpp"
#include "process.hpp"

namespace mountns {

namespace fs = std::filesystem;

std::string_view to_string(RootSwitch s) {
  return s == RootSwitch::chroot ? "chroot" : "pivot_root";
}

std::optional<RootSwitch> parse_root_switch(std::string_view text) {
  if (text == "chroot") return RootSwitch::chroot;
  if (text == "pivot_root") return RootSwitch::pivot_root;
  return std::nullopt;
}

std::string temp_dir_base() {
  const char* tmpdir = std::getenv("TMPDIR");
  return tmpdir && *tmpdir ? std::string(tmpdir) : std::string("/tmp");
}

std::string exec_problem(const std::string& dir) {
  struct statvfs fs_info {};
  if (::statvfs(dir.c_str(), &fs_info) == -1) return "";  // the step that uses it will say why
  if ((fs_info.f_flag & ST_NOEXEC) == 0) return "";
  return fmt::format("{} is on a file system mounted noexec", dir);
}

void copy_regular_file(const std::string& from, const std::string& to) {
  lab::UniqueFd in = lab::open_fd(from, O_RDONLY | O_CLOEXEC);
  struct stat st {};
  lab::check(::fstat(in.get(), &st), [&] { return fmt::format("fstat({})", lab::quote(from)); });
  lab::UniqueFd out = lab::open_fd(to, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  // copy_file_range copies inside the kernel; between different file system types (ext4 to
  // tmpfs) it says EXDEV, and sendfile, which works from any file to any file, takes over.
  bool use_sendfile = false;
  for (off_t left = st.st_size; left > 0;) {
    const auto chunk = static_cast<size_t>(left);
    ssize_t n = use_sendfile ? ::sendfile(out.get(), in.get(), nullptr, chunk)
                             : ::copy_file_range(in.get(), nullptr, out.get(), nullptr, chunk, 0);
    if (n == -1 && !use_sendfile &&
        (errno == EXDEV || errno == EINVAL || errno == ENOSYS || errno == EOPNOTSUPP)) {
      use_sendfile = true;
      continue;
    }
    if (n == -1 && errno == EINTR) {
      lab::throw_if_interrupted();
      continue;
    }
    lab::check(n, [&] {
      return fmt::format("{}({} -> {})", use_sendfile ? "sendfile" : "copy_file_range",
                         lab::quote(from), lab::quote(to));
    });
    if (n == 0) break;  // the source shrank while we copied
    left -= n;
  }
  lab::check(::fchmod(out.get(), st.st_mode & 07777),
             [&] { return fmt::format("fchmod({}, {:o})", lab::quote(to), st.st_mode & 07777); });
  // A full disk can show up only here, on some file systems: close(2) is checked too.
  lab::check(::close(out.release()), [&] { return fmt::format("close({})", lab::quote(to)); });
}

namespace {

bool is_no_space(int err) { return err == ENOSPC || err == EDQUOT; }

std::string mebibytes(std::uintmax_t bytes) {
  return fmt::format("{:.1f} MiB", static_cast<double>(bytes) / (1024.0 * 1024.0));
}

}  // namespace

ldd::Resolution build_minimal_rootfs(const std::string& rootfs,
                                     const std::vector<std::string>& programs,
                                     std::string_view where, std::string_view fix) {
  ldd::Resolution needs = ldd::resolve(programs);
  if (!needs.missing.empty())
    throw lab::UserError(fmt::format("cannot find {} (needed by {}); is it installed?",
                                     fmt::join(needs.missing, ", "), fmt::join(programs, ", ")));
  std::vector<std::string> files = programs;
  for (const auto& f : needs.all()) files.push_back(f);
  // What the rootfs needs in all, for the message when the disk is full.
  std::uintmax_t total = 0;
  for (const auto& f : files) {
    std::error_code ec;
    const auto size = fs::file_size(f, ec);
    if (!ec) total += size;
  }
  std::string current = rootfs;  // what was being made when it failed
  const auto no_space = [&](int err) {
    return lab::UserError(
        fmt::format("no space left on {}: {} while writing {} (the rootfs needs {} in all){}{}",
                    where.empty() ? rootfs : std::string(where),
                    err == EDQUOT ? "EDQUOT (disk quota)" : "ENOSPC", current, mebibytes(total),
                    fix.empty() ? "" : "; ", fix));
  };
  try {
    for (const auto& host_path : files) {
      // /bin/bash -> ROOTFS/bin/bash. open() follows symlinks (on merged-/usr hosts /bin is a link
      // to usr/bin), so the rootfs gets real files at the paths the loader will look at.
      fs::path target = fs::path(rootfs) / fs::path(host_path).relative_path();
      current = target.parent_path();
      fs::create_directories(target.parent_path());
      current = target;
      copy_regular_file(host_path, target.string());
    }
    current = fs::path(rootfs) / fs::path(kVolumeMountPoint).relative_path();
    fs::create_directories(current);
  } catch (const lab::SyscallError& e) {
    if (is_no_space(e.code().value())) throw no_space(e.code().value());
    throw lab::UserError(fmt::format("building the rootfs in {}: {}", rootfs, e.what()));
  } catch (const fs::filesystem_error& e) {
    if (is_no_space(e.code().value())) throw no_space(e.code().value());
    throw lab::UserError(fmt::format("building the rootfs in {}: {}", rootfs, e.what()));
  }
  return needs;
}

std::string validate_empty_dir(const std::string& dir) {
  std::error_code ec;
  if (!fs::is_directory(dir, ec)) return fmt::format("{} is not an existing directory", dir);
  if (!fs::is_empty(dir, ec) || ec)
    return fmt::format("{} is not empty; give an empty directory to build the rootfs in", dir);
  return "";
}

void make_mounts_private_in_child() { lab::mount_fs(nullptr, "/", nullptr, MS_REC | MS_PRIVATE); }

void bind_volume_in_child(const std::string& volume, const std::string& target) {
  lab::mount_fs(volume.c_str(), target, nullptr, MS_BIND);
}

void chroot_in_child(const std::string& rootfs) {
  lab::check(::chroot(rootfs.c_str()),
             [&] { return fmt::format("chroot({})", lab::quote(rootfs)); });
  lab::check(::chdir("/"), "chdir(\"/\")");
}

void bind_rootfs_onto_itself_in_child(const std::string& rootfs) {
  lab::mount_fs(rootfs.c_str(), rootfs, nullptr, MS_BIND | MS_REC);
}

void pivot_root_in_child(const std::string& rootfs) {
  lab::check(::chdir(rootfs.c_str()), [&] { return fmt::format("chdir({})", lab::quote(rootfs)); });
  // new_root and put_old may be the same directory: the old root is then mounted on top of the
  // new one, at "/", and our cwd stays in the new root underneath. glibc has no wrapper.
  lab::check(static_cast<int>(::syscall(SYS_pivot_root, ".", ".")), "pivot_root(\".\", \".\")");
  // Detach the old root stacked on top; the host's tree is no longer reachable from here.
  lab::check(::umount2(".", MNT_DETACH), [] {
    return fmt::format("umount2(\".\", {})", lab::umount_flags_to_string(MNT_DETACH));
  });
  lab::check(::chdir("/"), "chdir(\"/\")");
}

void switch_root_in_child(RootSwitch how, const std::string& rootfs) {
  if (how == RootSwitch::chroot) {
    chroot_in_child(rootfs);
  } else {
    pivot_root_in_child(rootfs);
  }
}

EscapeAttempt try_chroot_escape_in_child(const std::string& host_marker, int climbs) {
  // chroot() does not change the cwd. After chroot("lab-escape") our cwd is above our new root,
  // and ".." is only stopped at the root itself, which we never pass through: so we climb to the
  // top of the mount namespace's tree. After chroot that is the host's /. After pivot_root and
  // the old root's detach, the top is the rootfs itself: there is nothing above it to climb to.
  if (::mkdir("lab-escape", 0755) == -1 && errno != EEXIST)
    lab::check(-1, "mkdir(\"lab-escape\", 0755)");
  lab::check(::chroot("lab-escape"), "chroot(\"lab-escape\")");
  for (int i = 0; i < climbs; ++i) lab::check(::chdir(".."), "chdir(\"..\")");
  lab::check(::chroot("."), "chroot(\".\")");
  EscapeAttempt out;
  out.reached_host = ::access(host_marker.c_str(), F_OK) == 0;
  out.root_listing = list_directory("/");
  return out;
}

std::string run_and_capture(const std::vector<std::string>& argv) {
  int fds[2];
  lab::check(::pipe2(fds, O_CLOEXEC), "pipe2(O_CLOEXEC)");
  lab::UniqueFd read_end(fds[0]), write_end(fds[1]);
  std::vector<char*> args;
  for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  char env_path[] = "PATH=/bin";
  char env_home[] = "HOME=/";
  char* env[] = {env_path, env_home, nullptr};
  // A plain fork: no new namespaces. If reading below throws, the Child kills and reaps it.
  lab::Child child = lab::clone_child(SIGCHLD, [&] {
    ::dup2(write_end.get(), STDOUT_FILENO);
    ::execve(args[0], args.data(), env);
    // stderr is shared with the parent: say why, then exit 127 like a shell ("could not run").
    const int err = errno;
    std::fprintf(stderr, "execve(%s): %s%s\n", lab::quote(args[0]).c_str(), std::strerror(err),
                 err == EACCES ? " (is the rootfs on a file system mounted noexec?)" : "");
    return 127;
  });
  write_end.reset();
  std::string out;
  char buf[4096];
  for (;;) {
    ssize_t n = ::read(read_end.get(), buf, sizeof buf);
    if (n == -1 && errno == EINTR) {
      lab::throw_if_interrupted();
      continue;
    }
    lab::check(n, "read(pipe)");
    if (n == 0) break;
    out.append(buf, static_cast<size_t>(n));
  }
  const lab::ExitStatus status = child.wait();
  if (!status.ok())
    throw lab::UserError(fmt::format(
        "{} did not succeed: {}{}", fmt::join(argv, " "), status.describe(),
        status.code == 127 ? " (exit 127: it could not be run; the line above says why, e.g. "
                             "execve's error or the loader's missing library)"
                           : ""));
  return out;
}

std::vector<std::string> list_directory(const std::string& dir) {
  std::vector<std::string> names;
  for (const auto& entry : fs::directory_iterator(dir)) names.push_back(entry.path().filename());
  std::sort(names.begin(), names.end());
  return names;
}

std::vector<std::string> split_lines(std::string_view text) {
  std::vector<std::string> out;
  size_t start = 0;
  while (start < text.size()) {
    size_t end = text.find('\n', start);
    if (end == std::string_view::npos) end = text.size();
    if (end > start) out.emplace_back(text.substr(start, end - start));
    start = end + 1;
  }
  return out;
}

std::vector<std::string> mounts_under(const std::vector<lab::MountInfo>& mounts,
                                      std::string_view dir) {
  std::string prefix(dir);
  while (prefix.size() > 1 && prefix.back() == '/') prefix.pop_back();
  std::vector<std::string> out;
  for (const auto& m : mounts) {
    const std::string& p = m.mount_point;
    bool below = prefix == "/" ? true
                               : p == prefix || (p.size() > prefix.size() &&
                                                 p.compare(0, prefix.size(), prefix) == 0 &&
                                                 p[prefix.size()] == '/');
    if (below) out.push_back(p);
  }
  return out;
}

}  // namespace mountns
