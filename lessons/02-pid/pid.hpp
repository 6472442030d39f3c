// The PID namespace: process numbers of one's own, and the duties of PID 1.
//
// A process created with CLONE_NEWPID is PID 1 of a new PID namespace. Its children are numbered
// 2, 3, ... there, while the host sees the same processes under ordinary numbers: a process has
// one PID per namespace from its own up to the host's, listed in the NSpid line of
// /proc/PID/status. `ps` reads /proc, so it shows the namespace's numbers only once a proc
// filesystem mounted *from inside* the namespace is at /proc (hence CLONE_NEWNS, so that mount
// stays private). PID 1 of a namespace is its init, and the kernel treats it as such: orphans are
// re-parented to it, their zombies stay until it wait()s for them, signals it has no handler for
// are dropped when they come from inside, and when it exits the kernel SIGKILLs everything else
// in the namespace. See pid_namespaces(7), clone(2), proc(5), wait(2), signal(7).
#pragma once

#include <sys/types.h>

#include <functional>
#include <string>
#include <string_view>
#include <vector>

namespace pid {

// --- reading what the kernel shows (pure) --------------------------------------------------------

// One line of busybox `ps`: "    1 root     /bin/sh".
struct PsEntry {
  int pid = 0;
  std::string user;
  std::string command;
};
// Parses busybox ps output (the header line "PID   USER     COMMAND" first). Lines that do not
// start with a number are skipped.
std::vector<PsEntry> parse_ps(std::string_view text);

// Why `entries` is not what `ps` run by the shell at PID 1 should list, or "" when it is:
// exactly two processes, PID 1 the shell (/bin/sh) and the ps itself. busybox sh runs its
// applets in a fork of itself, so ps shows up as "{ps} /bin/sh" (its name, then its command line).
std::string check_ps_shows_shell_and_ps(const std::vector<PsEntry>& entries);

// The value of "Key:" in /proc/PID/status ("" if absent): status_field(s, "PPid") == "1".
std::string status_field(std::string_view status, std::string_view key);
// The NSpid line as numbers, outermost namespace first: {4321, 1} for PID 1 of a child namespace.
std::vector<pid_t> parse_nspid(std::string_view status);
// The state letter of the State line: 'R', 'S', 'Z' ...; '?' if absent.
char process_state(std::string_view status);

// --- the kernel steps ----------------------------------------------------------------------------

// In the child, in its new mount namespace: mount(NULL, "/", NULL, MS_REC|MS_PRIVATE, NULL), so
// that the proc mount below never propagates back to the host (systemd makes / shared).
void make_mounts_private_in_child();
// In the child: a fresh proc filesystem on ROOTFS/proc. Mounted from inside the new PID
// namespace, it shows that namespace's processes and numbers.
void mount_proc_in_child(const std::string& rootfs);
// The device nodes every container gets (runc's default set, without the ptys): name, major, minor.
struct DeviceNode {
  const char* name;
  unsigned int major, minor;
};
inline constexpr DeviceNode kDeviceNodes[] = {
    {"null", 1, 3},   {"zero", 1, 5},    {"full", 1, 7},
    {"random", 1, 8}, {"urandom", 1, 9}, {"tty", 5, 0},
};
// In the child: a fresh tmpfs on ROOTFS/dev holding kDeviceNodes, made with mknod(2), mode 0666,
// as runc does. The busybox rootfs's own /dev is empty, and a shell needs /dev/null at least
// (`sleep 1000 &` opens it for the job's stdin).
void mount_dev_in_child(const std::string& rootfs);
// In the child: chroot(ROOTFS) and chdir("/"), so /bin/sh and /proc are the rootfs's.
void chroot_in_child(const std::string& rootfs);
// Sets SIGINT, SIGTERM, SIGHUP and SIGQUIT back to SIG_DFL (clone copies the parent's handlers)
// and clears the signal mask (inherited too), so that what PID 1 does with a signal is the
// kernel's rule, not an inherited handler or a signal left blocked.
void reset_signals_in_child();
// execve(argv[0], argv, env); returns only by throwing.
[[noreturn]] void exec_in_child(const std::vector<std::string>& argv,
                                const std::vector<std::string>& env);

// Makes an orphan: fork(); the child forks a grandchild that execs `argv` and exits at once.
// The grandchild's parent is gone, so the kernel re-parents it to the namespace's PID 1.
// `stdio_fd` becomes the orphan's stdin, stdout and stderr. Returns the orphan's PID (as the
// caller's namespace numbers it).
pid_t spawn_orphan(const std::vector<std::string>& argv, int stdio_fd);

// Runs `argv` (argv[0] a path) in a forked child and waits; returns its status in shell terms.
int run_and_wait(const std::vector<std::string>& argv);

// A minimal init, what `docker run --init` (tini) puts at PID 1: forks `app` as PID 2, then
// waits for signals. SIGCHLD: reaps every child that has ended, adopted orphans included.
// SIGTERM, SIGINT, SIGHUP, SIGQUIT, SIGUSR1, SIGUSR2: forwarded to the app. Returns the app's exit
// code (128 + signal if a signal killed it) once the app has ended. Runs in PID 1; never throws.
// `after_fork` runs in init once the app is forked (e.g. to close descriptors only the app needs).
int run_init(const std::function<int()>& app,
             const std::function<void()>& after_fork = {}) noexcept;

// --- looking from the host -----------------------------------------------------------------------

// /proc/HOSTPID/status, or "" when the process no longer exists.
std::string read_status(pid_t host_pid);
// Every process on the host whose /proc/PID/ns/pid link is `ns_link` ("pid:[4026532300]").
std::vector<pid_t> host_pids_in_namespace(const std::string& ns_link);
// The host PID of the process numbered `inner_pid` inside the PID namespace `ns_link`, or -1.
pid_t host_pid_of(const std::string& ns_link, pid_t inner_pid);

}  // namespace pid
