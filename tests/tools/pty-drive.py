#!/usr/bin/env python3
"""pty-drive.py: runs a command on a new pty, as a person at a terminal would, and drives it.

Usage: pty-drive.py ROWS COLS STEP... -- COMMAND [ARG...]
Steps, in order:
  expect:REGEX   wait (at most 30 s) until everything printed so far matches REGEX (re.search)
  send:TEXT      type TEXT (Python escapes: \\x03 is Ctrl-C, \\x10\\x11 is Ctrl-P Ctrl-Q, \\r Enter)
  resize:R,C     set the pty's window size (the kernel sends the command SIGWINCH)
  poll:SHELL     wait (at most 30 s) until the shell command SHELL succeeds (e.g. pgrep: the
                 foreground command inside has started)
  raw            wait (at most 30 s) until the command has put the terminal in raw mode (typed
                 keys before that would be echoed and line-edited by our side's line discipline)
  wait           wait (at most 30 s) for the command to exit
Prints everything the command printed, then "exit: CODE" (or "exit: running" when it was left
running: it is then killed); exits 1 with a message when an expect times out.
"""
import fcntl
import os
import pty
import re
import select
import signal
import subprocess
import struct
import sys
import termios
import time

TIMEOUT = 30.0


def set_size(fd, rows, cols):
    fcntl.ioctl(fd, termios.TIOCSWINSZ, struct.pack("HHHH", rows, cols, 0, 0))


def main():
    args = sys.argv[1:]
    rows, cols = int(args[0]), int(args[1])
    sep = args.index("--")
    steps, command = args[2:sep], args[sep + 1:]
    pid, master = pty.fork()
    if pid == 0:
        os.execvp(command[0], command)
    set_size(master, rows, cols)
    output = b""
    exited = None

    def pump(timeout):
        nonlocal output, exited
        ready, _, _ = select.select([master], [], [], timeout)
        if ready:
            try:
                data = os.read(master, 65536)
            except OSError:
                data = b""
            if data:
                output += data
                return
        if exited is None:
            done, status = os.waitpid(pid, os.WNOHANG)
            if done:
                exited = os.waitstatus_to_exitcode(status)

    for step in steps:
        kind, _, value = step.partition(":")
        if kind == "expect":
            deadline = time.monotonic() + TIMEOUT
            pattern = re.compile(value.encode())
            while not pattern.search(output):
                if time.monotonic() > deadline or (exited is not None and not select.select([master], [], [], 0)[0]):
                    sys.stdout.buffer.write(output)
                    print(f"\npty-drive: timed out waiting for {value!r}", file=sys.stderr)
                    if exited is None:
                        os.kill(pid, signal.SIGKILL)
                    return 1
                pump(0.1)
        elif kind == "send":
            os.write(master, value.encode().decode("unicode_escape").encode("latin-1"))
        elif kind == "poll":
            deadline = time.monotonic() + TIMEOUT
            while subprocess.run(["sh", "-c", value], stdout=subprocess.DEVNULL).returncode != 0:
                if time.monotonic() > deadline:
                    sys.stdout.buffer.write(output)
                    print(f"\npty-drive: timed out polling {value!r}", file=sys.stderr)
                    os.kill(pid, signal.SIGKILL)
                    return 1
                pump(0.1)
        elif kind == "raw":
            deadline = time.monotonic() + TIMEOUT
            while termios.tcgetattr(master)[3] & termios.ICANON:
                if time.monotonic() > deadline:
                    sys.stdout.buffer.write(output)
                    print("\npty-drive: the terminal never went raw", file=sys.stderr)
                    os.kill(pid, signal.SIGKILL)
                    return 1
                pump(0.05)
        elif kind == "resize":
            r, c = value.split(",")
            set_size(master, int(r), int(c))
        elif kind == "wait":
            deadline = time.monotonic() + TIMEOUT
            while exited is None and time.monotonic() < deadline:
                pump(0.1)
    # What is left to read, briefly.
    deadline = time.monotonic() + 2
    while exited is None and time.monotonic() < deadline and "wait" in steps:
        pump(0.1)
    while select.select([master], [], [], 0)[0]:
        try:
            data = os.read(master, 65536)
        except OSError:
            break
        if not data:
            break
        output += data
    sys.stdout.buffer.write(output)
    if exited is None:
        done, status = os.waitpid(pid, os.WNOHANG)
        if done:
            exited = os.waitstatus_to_exitcode(status)
    if exited is None:
        print("\nexit: running")
        os.kill(pid, signal.SIGKILL)
        os.waitpid(pid, 0)
    else:
        print(f"\nexit: {exited}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
