#!/usr/bin/env python3
"""recvtty.py SOCKET: runc's console-socket protocol, receiving end (as runc's contrib recvtty).

Listens on SOCKET, accepts one connection, takes the pty master sent as SCM_RIGHTS, prints the
pty's name the runtime sent with it, then copies everything the container writes to stdout until
the container's side of the pty closes."""
import array
import os
import socket
import sys

path = sys.argv[1]
server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
server.bind(path)
server.listen(1)
conn, _ = server.accept()
fds = array.array("i")
msg, ancdata, _, _ = conn.recvmsg(4096, socket.CMSG_LEN(fds.itemsize))
for level, kind, data in ancdata:
    if level == socket.SOL_SOCKET and kind == socket.SCM_RIGHTS:
        fds.frombytes(data[: fds.itemsize])
print("name:", msg.decode(), flush=True)
master = fds[0]
while True:
    try:
        chunk = os.read(master, 4096)
    except OSError:  # EIO: the container's side closed
        break
    if not chunk:
        break
    sys.stdout.write(chunk.decode(errors="replace"))
    sys.stdout.flush()
