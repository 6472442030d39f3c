// Lesson 03: a root file system of one's own (mount namespace, bind-mounted volume, chroot and
// pivot_root).
//
// What it shows: the notes copy bash, ls and the libraries `ldd` lists into $HOME/test and
// `chroot $HOME/test /bin/bash`: `ls /` then shows only that directory. A volume bind-mounted into
// the rootfs before the root switch is seen inside, while the host's mount table never shows it.
// With --escape: a root process gets out of a chroot with the nested-chroot trick, and the same
// trick stays inside after pivot_root with the old root detached.
//
// The calls, in order:
// clang-format off
//   parent: read the ELF headers of /bin/bash and /bin/ls (PT_INTERP, DT_NEEDED, DT_RUNPATH),
//           find each library like ld.so does, copy everything into /tmp/lab-rootfs-XXXXXX
//   parent: clone(CLONE_NEWNS|SIGCHLD)                       a child in a new mount namespace
//   child:  mount(NULL, "/", NULL, MS_REC|MS_PRIVATE, NULL)  mount --make-rprivate /
//   child:  mount(VOLUME, ROOTFS/data, NULL, MS_BIND, NULL)  mount --bind VOLUME ROOTFS/data
//   child:  pivot_root(".", "."); umount2(".", MNT_DETACH)   (or chroot(ROOTFS): --root-switch)
//   child:  execve("/bin/bash", ["bash", "-c", "ls /"])      the copied bash and ls, inside
//   parent: read /proc/self/mountinfo and /proc/CHILD/mountinfo
//   child:  write /data/lab-from-inside.txt; parent reads it in VOLUME
// clang-format on
// Man pages: mount_namespaces(7), pivot_root(2), chroot(2), mount(2), ld.so(8), elf(5).
//
// Run it:  make && ./mount-chroot   as root (--root-switch chroot, --escape, --shell, --help)
// Look for: `ls /` inside lists bin data lib lib64 and nothing of the host; the host has no mount
// at ROOTFS/data while the child has one at /data; the file written inside is in VOLUME.

#include <fmt/format.h>
#include <fmt/ranges.h>
#include <sched.h>
#include <sys/mount.h>
#include <unistd.h>

#include <algorithm>
#include <csignal>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include "cli.hpp"
#include "error.hpp"
#include "fd.hpp"
#include "host.hpp"
#include "ldd.hpp"
#include "mount.hpp"
#include "mount_chroot.hpp"
#include "narrator.hpp"
#include "process.hpp"

namespace {

namespace fs = std::filesystem;

const std::vector<std::string> kPrograms = {"/bin/bash", "/bin/ls"};
constexpr std::string_view kFileName = "lab-from-inside.txt";
constexpr std::string_view kFileContent = "written inside the container\n";
// Both experiments clone their child the same way: a new mount namespace, and SIGCHLD at its end.
constexpr unsigned long kCloneFlags = CLONE_NEWNS | SIGCHLD;

struct Options {
  std::string root_switch = "pivot_root";
  std::string volume;      // "" -> a fresh $TMPDIR/lab-volume-XXXXXX (TMPDIR: /tmp by default)
  std::string rootfs_dir;  // "" -> a fresh $TMPDIR/lab-rootfs-XXXXXX, removed at the end
  bool escape = false;
  bool shell = false;
  lab::OutputOptions output;
};

// What the child needs to know; it gets a copy of our memory, so plain strings do.
struct Plan {
  std::string rootfs;
  std::string volume;  // "" -> no volume to bind (the escape)
  mountns::RootSwitch how = mountns::RootSwitch::pivot_root;
  std::string host_marker;  // for the escape: a file only the host has
};

std::string joined(const std::vector<std::string>& names) {
  return fmt::format("{}", fmt::join(names, " "));
}

// One name a line: a listing as one channel message.
std::string lines(const std::vector<std::string>& names) {
  return fmt::format("{}", fmt::join(names, "\n"));
}

std::string switch_call(mountns::RootSwitch how, const std::string& rootfs) {
  return how == mountns::RootSwitch::chroot ? fmt::format("chroot({})", lab::quote(rootfs))
                                            : std::string("pivot_root(\".\", \".\")");
}

// --- the child's side: runs in the new mount namespace -------------------------------------------

// Makes mounts private, binds the volume, switches the root; each step answered with "ok" or the
// error. Then does what the parent asks: "ls", "write", "shell", "escape" or "exit".
int child_main(const Plan& plan, lab::Channel& channel) noexcept {
  try {
    mountns::make_mounts_private_in_child();
    channel.send_ok();
    if (!plan.volume.empty()) {
      mountns::bind_volume_in_child(plan.volume,
                                    plan.rootfs + std::string(mountns::kVolumeMountPoint));
      channel.send_ok();
    }
    if (plan.how == mountns::RootSwitch::pivot_root)
      mountns::bind_rootfs_onto_itself_in_child(plan.rootfs);
    mountns::switch_root_in_child(plan.how, plan.rootfs);
    channel.send_ok();
    for (;;) {
      const std::string order = channel.receive();
      if (order == "ls") {
        // The copied bash runs the copied ls: if a library were missing, the loader would fail.
        std::string listing = mountns::run_and_capture({"/bin/bash", "-c", "ls /"});
        channel.send_ok();
        channel.send(listing);
      } else if (order == "write") {
        lab::create_file(fmt::format("{}/{}", mountns::kVolumeMountPoint, kFileName),
                         std::string(kFileContent));
        channel.send_ok();
      } else if (order == "escape") {
        std::vector<std::string> before = mountns::list_directory("/");
        mountns::EscapeAttempt got = mountns::try_chroot_escape_in_child(plan.host_marker);
        channel.send(got.reached_host ? "reached" : "inside");
        channel.send(lines(before));
        channel.send(lines(got.root_listing));
      } else if (order == "shell") {
        channel.close();
        ::setenv("PATH", "/bin", 1);
        ::setenv("HOME", "/", 1);
        ::setenv("PS1", "[mount-chroot] \\w# ", 1);
        ::execl("/bin/bash", "bash", "--norc", "-i", static_cast<char*>(nullptr));
        lab::check(-1, "execl(\"/bin/bash\") inside the rootfs");
      } else {
        return 0;  // "exit", or "" when the parent went away
      }
    }
  } catch (const std::exception& e) {
    channel.report_error(e.what());
  }
  return 1;
}

// --- the parent's side ---------------------------------------------------------------------------

// Step 1, shared by both experiments: the rootfs on the host (and, for the main one, the volume).
struct HostDirs {
  std::optional<lab::TempDir> rootfs_temp;
  std::optional<lab::TempDir> volume_temp;
  std::string rootfs;
  std::string volume;
};

// Where the rootfs goes, in the user's terms, and what to do when that place does not fit.
struct RootfsPlace {
  std::string dir;    // the directory it is made in ($TMPDIR or /tmp) or is (--rootfs-dir)
  std::string label;  // how the user chose it: "TMPDIR" or "--rootfs-dir"
  std::string fix_noexec;
  std::string fix_no_space;
  std::string name() const { return fmt::format("{} ({})", dir, label); }
};

RootfsPlace rootfs_place(const Options& opt) {
  if (!opt.rootfs_dir.empty())
    return {opt.rootfs_dir, "--rootfs-dir", "give a --rootfs-dir on a file system that allows exec",
            "free some space there, or give a --rootfs-dir on a roomier file system"};
  return {mountns::temp_dir_base(), "TMPDIR",
          "point TMPDIR at a directory that allows exec, e.g. TMPDIR=/var/tmp ./mount-chroot",
          "free some space there, or point TMPDIR at a roomier directory, e.g. TMPDIR=/var/tmp "
          "./mount-chroot"};
}

// Before anything is made: a rootfs on a noexec mount could be built, but its bash could never
// run (execve says EACCES, which reads like a permissions problem). Say so up front.
void check_rootfs_can_exec(const Options& opt) {
  const RootfsPlace place = rootfs_place(opt);
  const std::string problem = mountns::exec_problem(place.dir);
  if (!problem.empty())
    throw lab::UserError(
        fmt::format("{} ({}): the bash and ls copied into a rootfs there could not run (execve "
                    "fails with EACCES); {}",
                    problem, place.label, place.fix_noexec));
}

void build_rootfs_step(const Options& opt, lab::Narrator& say, HostDirs& dirs) {
  const RootfsPlace place = rootfs_place(opt);
  if (opt.rootfs_dir.empty()) {
    dirs.rootfs_temp.emplace(place.dir + "/lab-rootfs-");
    dirs.rootfs = dirs.rootfs_temp->path();
  } else {
    dirs.rootfs = fs::absolute(opt.rootfs_dir).lexically_normal().string();
  }
  say.step(fmt::format("build_minimal_rootfs({}, {{\"/bin/bash\", \"/bin/ls\"}})",
                       lab::quote(dirs.rootfs)),
           "cp -v /bin/{bash,ls} $T/bin; ldd ... | cp");
  ldd::Resolution needs =
      mountns::build_minimal_rootfs(dirs.rootfs, kPrograms, place.name(), place.fix_no_space);
  say.say(fmt::format("loader (PT_INTERP): {}", joined(needs.interpreters)));
  say.say(fmt::format("libraries (DT_NEEDED, searched like ld.so): {}", joined(needs.libraries)));
  say.say(
      fmt::format("{} now holds: {}", dirs.rootfs, joined(mountns::list_directory(dirs.rootfs))));
  say.fact("rootfs", dirs.rootfs);
  say.fact("programs", kPrograms);
  say.fact("interpreters", needs.interpreters);
  say.fact("libraries", needs.all());
  say.fact("rootfs_entries", mountns::list_directory(dirs.rootfs));
}

void choose_volume(const Options& opt, lab::Narrator& say, HostDirs& dirs) {
  if (opt.volume.empty()) {
    dirs.volume_temp.emplace(mountns::temp_dir_base() + "/lab-volume-");
    dirs.volume = dirs.volume_temp->path();
  } else {
    dirs.volume = fs::absolute(opt.volume).lexically_normal().string();
  }
  say.say(fmt::format("the volume: host directory {}", dirs.volume));
  say.fact("volume", dirs.volume);
}

lab::Child clone_into_mount_namespace(const Plan& plan, lab::Channel& parent_end,
                                      lab::Channel& child_end) {
  return lab::clone_child(kCloneFlags, [&] {
    parent_end.close();
    return child_main(plan, child_end);
  });
}

// The main experiment: the rootfs, the volume, the root switch, `ls /`, the two mount tables.
int run_experiment(const Options& opt) {
  lab::Narrator say("mount-chroot", opt.output.mode(), 8);
  const auto how = *mountns::parse_root_switch(opt.root_switch);
  HostDirs dirs;
  build_rootfs_step(opt, say, dirs);
  choose_volume(opt, say, dirs);
  const std::string host_data = dirs.rootfs + std::string(mountns::kVolumeMountPoint);
  const std::string propagation = [] {
    const auto mounts = lab::read_mountinfo();
    const lab::MountInfo* root = lab::find_mount(mounts, "/");
    return root ? root->propagation() : std::string("unknown");
  }();

  say.step(fmt::format("clone({})", lab::clone_flags_to_string(kCloneFlags)), "unshare -m");
  Plan plan{dirs.rootfs, dirs.volume, how, ""};
  auto [parent_end, child_end] = lab::Channel::make_pair();
  lab::Child child = clone_into_mount_namespace(plan, parent_end, child_end);
  child_end.close();
  const std::string ns_outside = lab::namespace_link(0, "mnt");
  const std::string ns_inside = lab::namespace_link(child.pid(), "mnt");
  say.say(
      fmt::format("child {} in mount namespace {} (the host's is {}), with a copy of the "
                  "host's mount table",
                  child.pid(), ns_inside, ns_outside));

  say.step("mount(NULL, \"/\", NULL, MS_REC|MS_PRIVATE, NULL)  [in the child]",
           "mount --make-rprivate /");
  parent_end.expect_ok("making the child's mounts private");
  say.say(fmt::format("propagation of / on the host: {}; in the child every mount is private now,",
                      propagation));
  say.say(
      "so nothing the child mounts or unmounts reaches the host (and pivot_root will not "
      "refuse with EINVAL)");

  say.step(fmt::format("mount({}, {}, NULL, MS_BIND, NULL)  [in the child]",
                       lab::quote(dirs.volume), lab::quote(host_data)),
           "mount --bind $VOL $T/data");
  parent_end.expect_ok("bind-mounting the volume into the rootfs");
  say.say(
      "the volume goes in before the root switch, while the child still sees the host's "
      "directories");

  if (how == mountns::RootSwitch::pivot_root) {
    say.step("pivot_root(\".\", \".\")  [in the child, cwd = the rootfs]",
             "cd $T && pivot_root . . && umount -l .");
    parent_end.expect_ok("switching the root with pivot_root");
    say.say(fmt::format("mount --rbind {0} {0}; chdir; pivot_root; umount2(\".\", MNT_DETACH):",
                        dirs.rootfs));
    say.say("the rootfs is the namespace's root mount, the host's / is detached from it");
  } else {
    say.step(fmt::format("chroot({})  [in the child]", lab::quote(dirs.rootfs)), "chroot $T");
    parent_end.expect_ok("switching the root with chroot");
    say.say(
        "only the child's root directory changed: the host's / is still mounted in its "
        "namespace (see --escape)");
  }

  say.step("execve(\"/bin/bash\", [\"bash\", \"-c\", \"ls /\"])  [in the child]",
           "chroot $T /bin/bash -c 'ls /'");
  parent_end.send("ls");
  parent_end.expect_ok("running ls / inside the rootfs");
  const std::vector<std::string> inside_ls = mountns::split_lines(parent_end.receive());
  const std::vector<std::string> rootfs_entries = mountns::list_directory(dirs.rootfs);
  const bool only_rootfs = inside_ls == rootfs_entries;
  say.say(fmt::format("ls / inside: {}", joined(inside_ls)));
  say.say(only_rootfs ? "exactly what the rootfs holds: none of the host's /etc, /usr, /proc ..."
                      : fmt::format("but the rootfs holds: {}", joined(rootfs_entries)));

  say.step("read(\"/proc/self/mountinfo\"), read(\"/proc/CHILD/mountinfo\")",
           fmt::format("findmnt; findmnt -N {}", child.pid()));
  std::vector<std::string> child_mounts;
  std::vector<std::string> child_not_private;  // step 3's claim, checked on what is left
  for (const auto& m : lab::read_mountinfo(fmt::format("/proc/{}/mountinfo", child.pid()))) {
    child_mounts.push_back(m.mount_point);
    if (m.propagation() != "private") child_not_private.push_back(m.mount_point);
  }
  const bool child_mounts_private = child_not_private.empty();
  const bool child_sees_volume = std::find(child_mounts.begin(), child_mounts.end(),
                                           mountns::kVolumeMountPoint) != child_mounts.end();
  std::vector<std::string> host_leaks = mountns::mounts_under(lab::read_mountinfo(), dirs.rootfs);
  const std::vector<std::string> host_data_entries = mountns::list_directory(host_data);
  say.say(fmt::format("child: mounts at {} ({}), {}", joined(child_mounts),
                      child_sees_volume ? "/data is the volume" : "NO /data mount",
                      child_mounts_private
                          ? "every one private"
                          : fmt::format("NOT private: {}", joined(child_not_private))));
  say.say(
      host_leaks.empty()
          ? fmt::format("host:  no mount under {}; its data/ is an empty directory", dirs.rootfs)
          : fmt::format("host:  LEAKED mounts: {}", joined(host_leaks)));
  // If a mount did leak, take it away before the rootfs directory is removed.
  for (auto it = host_leaks.rbegin(); it != host_leaks.rend(); ++it)
    ::umount2(it->c_str(), MNT_DETACH);

  const std::string file_inside = fmt::format("{}/{}", mountns::kVolumeMountPoint, kFileName);
  const std::string file_on_host = fmt::format("{}/{}", dirs.volume, kFileName);
  say.step(
      fmt::format("open({}, O_WRONLY|O_CREAT), write()  [in the child]", lab::quote(file_inside)),
      fmt::format("echo ... > {}", file_inside));
  parent_end.send("write");
  parent_end.expect_ok("writing a file into the volume");
  std::string on_host;
  try {
    on_host = lab::read_file(file_on_host);
  } catch (const lab::SyscallError&) {
  }
  const bool file_arrived = on_host == kFileContent;
  say.say(file_arrived ? fmt::format("on the host, {} holds \"{}\"", file_on_host,
                                     on_host.substr(0, on_host.size() - 1))
                       : fmt::format("on the host, {} is missing", file_on_host));

  say.fact("root_switch", std::string(mountns::to_string(how)));
  say.fact("host_root_propagation", propagation);
  say.fact("child_pid", child.pid());
  say.fact("ns_inside", ns_inside);
  say.fact("ns_outside", ns_outside);
  say.fact("inside_ls", inside_ls);
  say.fact("ls_shows_only_rootfs", only_rootfs);
  say.fact("child_mounts", child_mounts);
  say.fact("child_sees_volume", child_sees_volume);
  say.fact("child_mounts_private", child_mounts_private);
  say.fact("host_mounts_under_rootfs", host_leaks);
  say.fact("host_data_dir_entries", host_data_entries);
  say.fact("file_inside", file_inside);
  say.fact("file_on_host", file_on_host);
  say.fact("file_on_host_content", on_host);

  if (opt.shell) {
    say.say("a bash inside the rootfs: try `ls /`, `ls /data`, `echo $BASHPID`, `cd ..; ls`;");
    say.say("only bash and ls exist in here (use `echo *` to look around). exit to leave.");
    parent_end.send("shell");
    // Ctrl-C belongs to the shell inside, as it would in a terminal; SIGTERM still stops the
    // lesson, which then removes everything it made.
    child.wait_foreground();
  } else {
    parent_end.send("exit");
    child.wait();
  }

  const bool own_namespace = ns_inside != ns_outside;
  const bool held = own_namespace && child_mounts_private && only_rootfs && child_sees_volume &&
                    host_leaks.empty() && host_data_entries.empty() && file_arrived;
  std::string what =
      held ? fmt::format(
                 "after {}, `ls /` showed only the rootfs ({}); the volume at /data was "
                 "mounted in the child only, and the file written to /data appeared in {}",
                 mountns::to_string(how), joined(inside_ls), dirs.volume)
           : fmt::format(
                 "own mount namespace: {}; child mounts all private: {}; ls / showed {} "
                 "(rootfs: {}); child sees /data: {}; host mounts under the rootfs: {}; file "
                 "on the host: {}",
                 own_namespace, child_mounts_private, joined(inside_ls), joined(rootfs_entries),
                 child_sees_volume, host_leaks.empty() ? "none" : joined(host_leaks), file_arrived);
  return say.verdict(held, what) ? 0 : 1;
}

// What one --escape child saw after the trick.
struct EscapeOutcome {
  bool reached_host = false;              // the host-only marker was visible
  std::vector<std::string> root_listing;  // what its "/" held
  bool root_is_rootfs = false;            // ...and that was exactly the rootfs directory
};

// One child for --escape: switch the root one way, then try the nested-chroot trick.
EscapeOutcome escape_from(mountns::RootSwitch how, const HostDirs& dirs, const std::string& marker,
                          lab::Narrator& say) {
  say.step(fmt::format("clone({}), mount(NULL, \"/\", NULL, MS_REC|MS_PRIVATE, NULL), {}",
                       lab::clone_flags_to_string(kCloneFlags), switch_call(how, dirs.rootfs)),
           how == mountns::RootSwitch::chroot ? "unshare -m chroot $T"
                                              : "unshare -m; pivot_root . .; umount -l .");
  Plan plan{dirs.rootfs, "", how, marker};
  auto [parent_end, child_end] = lab::Channel::make_pair();
  lab::Child child = clone_into_mount_namespace(plan, parent_end, child_end);
  child_end.close();
  const pid_t pid = child.pid();
  parent_end.expect_ok("making the child's mounts private");
  parent_end.expect_ok(fmt::format("switching the root with {}", mountns::to_string(how)));
  parent_end.send("escape");
  const std::string step = "trying the nested-chroot escape";
  EscapeOutcome got;
  got.reached_host = parent_end.receive_reply(step) == "reached";
  const std::vector<std::string> before = mountns::split_lines(parent_end.receive_reply(step));
  got.root_listing = mountns::split_lines(parent_end.receive_reply(step));
  parent_end.send("exit");
  child.wait();
  // The trick left its directory behind in the rootfs: if the child's / is the rootfs, it lists
  // exactly what the rootfs directory holds now, lab-escape included.
  got.root_is_rootfs = got.root_listing == mountns::list_directory(dirs.rootfs);
  // Remove it so that the next attempt starts clean.
  std::error_code ec;
  fs::remove(fs::path(dirs.rootfs) / "lab-escape", ec);
  say.say(fmt::format("child {}: ls / shows {}", pid, joined(before)));

  say.step(
      "mkdir(\"lab-escape\"), chroot(\"lab-escape\"), chdir(\"..\") x64, chroot(\".\")  [in the "
      "child]",
      "mkdir x; chroot x; cd ../../..; chroot .");
  say.say(fmt::format("access({}): {}", lab::quote(marker),
                      got.reached_host ? "found - the child is out, on the host's /"
                                       : "not found - the child is still in the rootfs"));
  say.say(fmt::format("/ now holds: {}{}", joined(got.root_listing),
                      got.root_is_rootfs ? " (the rootfs)" : ""));
  return got;
}

int run_escape(const Options& opt) {
  lab::Narrator say("mount-chroot", opt.output.mode(), 5);
  HostDirs dirs;
  build_rootfs_step(opt, say, dirs);
  // A file the rootfs does not have but the host does: this very program.
  const std::string marker = fs::read_symlink("/proc/self/exe").string();

  say.heading("chroot: only the root directory changes");
  const auto after_chroot = escape_from(mountns::RootSwitch::chroot, dirs, marker, say);
  say.heading("pivot_root: the root mount changes, the old one is detached");
  const auto after_pivot = escape_from(mountns::RootSwitch::pivot_root, dirs, marker, say);

  say.fact("host_marker", marker);
  say.fact("chroot_escaped", after_chroot.reached_host);
  say.fact("chroot_root_after", after_chroot.root_listing);
  say.fact("pivot_root_escaped", after_pivot.reached_host);
  say.fact("pivot_root_root_after", after_pivot.root_listing);
  say.fact("pivot_root_root_is_rootfs", after_pivot.root_is_rootfs);

  // "Stayed inside" is shown twice: the host's file is not there, and / is the rootfs itself.
  const bool pivot_stayed = !after_pivot.reached_host && after_pivot.root_is_rootfs;
  const bool held = after_chroot.reached_host && pivot_stayed;
  std::string what = fmt::format(
      "chroot {}: the nested-chroot trick {} the host's /; after pivot_root with the old root "
      "detached the same trick {}",
      after_chroot.reached_host ? "was escaped" : "was NOT escaped",
      after_chroot.reached_host ? "reached" : "did not reach",
      after_pivot.reached_host ? "ALSO got out"
      : pivot_stayed           ? "stayed inside the rootfs"
                               : "did not find the host's file, but / was not the rootfs either");
  return say.verdict(held, what) ? 0 : 1;
}

int run(const Options& opt) {
  lab::host::require_root("./mount-chroot");
  check_rootfs_can_exec(opt);
  return opt.escape ? run_escape(opt) : run_experiment(opt);
}

}  // namespace

int main(int argc, char** argv) {
  Options opt;
  CLI::App app{
      "Lesson 03: a root file system of one's own. Builds a rootfs from /bin/bash, /bin/ls and\n"
      "the libraries they need, then in a new mount namespace makes / private, bind-mounts a\n"
      "volume at /data, switches the root and runs `ls /` (like `unshare -m; chroot $T`).",
      "mount-chroot"};
  app.add_option("--root-switch", opt.root_switch,
                 "how to switch the root: pivot_root (what runtimes do) or chroot")
      ->capture_default_str()
      ->check(CLI::IsMember({"pivot_root", "chroot"}));
  app.add_option("--volume", opt.volume,
                 "host directory to bind-mount at /data inside (default: a new "
                 "$TMPDIR/lab-volume-*, /tmp without TMPDIR, removed at the end); the file "
                 "written inside stays in it")
      ->check(CLI::ExistingDirectory);
  app.add_option("--rootfs-dir", opt.rootfs_dir,
                 "an empty directory to build the rootfs in, kept afterwards (default: a new "
                 "$TMPDIR/lab-rootfs-*, /tmp without TMPDIR, removed at the end)")
      ->check([](const std::string& dir) { return mountns::validate_empty_dir(dir); });
  auto* escape = app.add_flag(
      "--escape", opt.escape,
      "escape a chroot with the nested-chroot trick, then fail to escape pivot_root the same way");
  auto* shell = app.add_flag(
      "--shell", opt.shell, "after the experiment, leave you in the copied bash inside the rootfs");
  escape->excludes(shell);
  lab::add_output_options(app, opt.output);
  if (int code = lab::parse_command_line(app, argc, argv); code >= 0) return code;
  return lab::run_guarded("mount-chroot", [&] { return run(opt); });
}
