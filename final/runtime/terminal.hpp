// A container's terminal: a pty made inside the container, whose master end goes to whoever
// asked for it over a unix socket (runc's --console-socket protocol, which podman's conmon and
// runc's own recvtty speak): one message, the pty's name as data and the master fd as
// SCM_RIGHTS ancillary data. See pty(7), unix(7) "SCM_RIGHTS", and runc's docs/terminals.md.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <utility>

#include "fd.hpp"

namespace runtime::terminal {

// Connects to the socket at `path`; a path that is not a unix socket is refused in one line.
lab::UniqueFd connect_console_socket(const std::string& path);

void send_fd(int socket, int fd, std::string_view name);
lab::UniqueFd receive_fd(int socket);

// In the container, after /dev/pts is its own devpts: opens /dev/ptmx, sends the master over
// `console_socket`, and makes the pty's other end the calling process's controlling terminal and
// its stdin, stdout and stderr (setsid, TIOCSCTTY, dup2).
void setup_console_in_child(int console_socket, std::optional<std::pair<unsigned, unsigned>> size);

// Foreground `run` and `exec` with a terminal and no --console-socket, as runc does them: our
// own stdin and stdout are copied to and from the master until the container's side closes.
// A terminal on our stdin is put into raw mode meanwhile (and restored).
void copy_between(int master);

}  // namespace runtime::terminal
