// Child processes made with clone(2), the pipe that parent and child talk over, and Ctrl-C.
//
// A Child owns a process: if it is still running when the owner goes away (an error, Ctrl-C),
// it is killed with SIGKILL and reaped, so no lesson leaves a process behind. Killing PID 1 of a
// PID namespace takes every process in that namespace with it.
#pragma once

#include <sys/types.h>

#include <functional>
#include <string>
#include <string_view>
#include <utility>

#include "fd.hpp"

namespace lab {

// How a process ended, in shell terms: exit code, or 128 + signal number.
struct ExitStatus {
  int code = 0;
  int signal = 0;  // non-zero when killed by a signal
  int shell_code() const { return signal ? 128 + signal : code; }
  bool ok() const { return signal == 0 && code == 0; }
  std::string describe() const;  // "exited 0" / "killed by SIGKILL"
};
ExitStatus decode_wait_status(int status);

class Child {
 public:
  Child() = default;
  explicit Child(pid_t pid) : pid_(pid) {}
  Child(Child&& other) noexcept : pid_(std::exchange(other.pid_, -1)) {}
  Child& operator=(Child&& other) noexcept;
  Child(const Child&) = delete;
  Child& operator=(const Child&) = delete;
  ~Child() { kill_and_reap(); }

  pid_t pid() const { return pid_; }
  bool running() const { return pid_ > 0; }
  // Waits for the child to end. Ctrl-C while waiting throws Interrupted (the child is then killed
  // by the destructor).
  ExitStatus wait();
  // The same, for an interactive shell: Ctrl-C belongs to the shell, so we ignore it meanwhile.
  ExitStatus wait_foreground();
  void kill_and_reap() noexcept;
  pid_t release() { return std::exchange(pid_, -1); }

 private:
  pid_t pid_ = -1;
};

// What happens to the child when the process that cloned it dies.
enum class ParentDeath {
  kill_child,  // PR_SET_PDEATHSIG(SIGKILL): nothing a lesson starts outlives it
  keep_child,  // the child lives on (a container's init after `runtime create` has exited)
};

// clone(2) without CLONE_VM: the child gets a copy of our memory (like fork) and runs `body`, in
// the new namespaces that `flags` asks for. `body`'s return value is the exit code.
// By default the child asks for SIGKILL when this process dies (PR_SET_PDEATHSIG), so nothing
// outlives us; if we died before it could ask, it exits at once. Throws SyscallError naming the
// flags, e.g. clone(CLONE_NEWUTS|SIGCHLD).
Child clone_child(unsigned long flags, std::function<int()> body,
                  ParentDeath on_parent_death = ParentDeath::kill_child);

// The same, born inside the cgroup v2 directory `cgroup_dir_fd` (clone3(2) with
// CLONE_INTO_CGROUP, Linux 5.7): the child never runs outside it, and nobody has to write its
// pid to cgroup.procs afterwards. Where the kernel has no clone3 (ENOSYS), a plain clone_child:
// `into_cgroup` says which one happened, and the caller then puts the child in itself.
Child clone_child_into_cgroup(unsigned long flags, int cgroup_dir_fd, bool& into_cgroup,
                              std::function<int()> body,
                              ParentDeath on_parent_death = ParentDeath::kill_child);

// One end of a socketpair(AF_UNIX, SOCK_SEQPACKET) between parent and child. Each send is one
// message, received whole and on its own (the socket keeps the boundaries), so a value may hold
// any bytes: a newline, a tab, "error:", \xff. Every message starts with one byte that says what
// it is (ok, an error, a value), so a value is never mistaken for an error or for the end; a
// child that dies without a word closes its end, which the parent sees.
class Channel {
 public:
  enum class Kind { ok, error, value, closed };
  struct Message {
    Kind kind = Kind::closed;
    std::string text;  // the value, or the error's text
  };

  static std::pair<Channel, Channel> make_pair();
  // One value, as one message.
  void send(std::string_view value);
  void send_ok();
  void send_error(std::string_view what);
  // For a child's last words in its catch block: like send_error, but never throws; if the
  // message cannot be sent (channel closed, parent gone) it goes to stderr instead.
  void report_error(std::string_view what) noexcept;

  // The next message, whatever it is. Ctrl-C while waiting throws Interrupted.
  Message receive_message();
  // The next message as text, for commands such as "exit": a value as it is, "ok", an error as
  // "error:<text>", and "" when the other side closed.
  std::string receive();
  // Waits for the child's answer and returns the value (or "ok"); an error or a closed channel
  // throws UserError("<step>: <child's message>").
  std::string receive_reply(std::string_view step);
  // Waits for "ok"; otherwise throws UserError("<step>: <child's message>").
  void expect_ok(std::string_view step);
  void close() { fd_.reset(); }
  int fd() const { return fd_.get(); }

 private:
  explicit Channel(int fd) : fd_(fd) {}
  void send_message(char kind, std::string_view text);
  UniqueFd fd_;
};

// Ctrl-C, SIGTERM and SIGHUP set a flag instead of killing us, so that the owners above can undo
// what was made. Blocking calls see EINTR and throw Interrupted.
void install_interrupt_handlers();
void throw_if_interrupted();

// The namespace a process is in, as /proc/PID/ns/TYPE shows it: "uts:[4026531838]". Two
// processes share a namespace exactly when these links are equal. pid 0 means this process.
std::string namespace_link(pid_t pid, std::string_view type);

// Sleeps, but wakes up and throws Interrupted on Ctrl-C.
void sleep_ms(long ms);

}  // namespace lab
