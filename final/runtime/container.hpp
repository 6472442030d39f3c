// The runtime's verbs (runc's, with runc's semantics; runtime-spec runtime.md "Operations"):
//   create  every setup step; the init waits, blocked on exec.fifo, just before its execve
//   start   opens exec.fifo: the init goes on and becomes the container's program
//   state   what the runtime knows: created, running or stopped, the init's pid
//   kill    a signal to the init (or every process of the container, --all)
//   delete  the state, the cgroup and (--force) the processes
//   run     create + start, then waits and exits with the program's exit code
//   exec    another process in a running container: its namespaces and cgroup
//   list    every container under --root
//   pause   freezes every process of the container (its cgroup's freezer); status "paused"
//   resume  thaws them again
#pragma once

#include <string>
#include <vector>

namespace runtime {

struct GlobalOptions {
  std::string root;
  bool explain = false;
};

struct CreateOptions {
  std::string id;
  std::string bundle = ".";
  std::string pid_file;
  std::string console_socket;
  int preserve_fds = 0;
};

int create(const GlobalOptions& global, const CreateOptions& options);
int start(const GlobalOptions& global, const std::string& id);
int print_state(const GlobalOptions& global, const std::string& id);
int kill(const GlobalOptions& global, const std::string& id, const std::string& signal, bool all);
int remove(const GlobalOptions& global, const std::string& id, bool force);
int pause(const GlobalOptions& global, const std::string& id);
int resume(const GlobalOptions& global, const std::string& id);
int run(const GlobalOptions& global, const CreateOptions& options, bool detach);
int list(const GlobalOptions& global, bool quiet, const std::string& format);

struct ExecOptions {
  std::string id;
  std::vector<std::string> args;
  std::vector<std::string> env;  // KEY=VALUE, added to (or replacing) the container's
  std::string cwd;
  std::string user;  // UID[:GID]
  std::vector<std::string> additional_gids;
  bool tty = false;
  std::string console_socket;
  bool detach = false;
  std::string pid_file;
  std::vector<std::string> caps;  // added to every set
  bool no_new_privs = false;
  int preserve_fds = 0;
  // runc's --process FILE: the whole process as JSON, instead of args and the flags above.
  std::string process_file;
};

int exec(const GlobalOptions& global, const ExecOptions& options);

// Pure: "KILL", "SIGKILL", "9" -> 9; 0 when unknown.
int parse_signal(const std::string& text);

}  // namespace runtime
