# Copyright: esxi.customizer contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""A minimal HTTP CONNECT proxy for the tests: logs each CONNECT target, then relays bytes.

Usage: connect_proxy.py <portfile> <logfile> <seconds-to-live>
"""

from __future__ import annotations

import os
import socket
import sys
import threading


def relay(a, b):
    try:
        while True:
            data = a.recv(65536)
            if not data:
                break
            b.sendall(data)
    except OSError:
        pass
    finally:
        for s in (a, b):
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass


def handle(client, log):
    head = b''
    while b'\r\n\r\n' not in head:
        data = client.recv(4096)
        if not data:
            client.close()
            return
        head += data
    line = head.split(b'\r\n', 1)[0].decode('latin-1')
    method, target = line.split(' ')[:2]
    with open(log, 'a') as f:
        f.write(line + '\n')
    if method != 'CONNECT':
        client.sendall(b'HTTP/1.1 405 Method Not Allowed\r\nContent-Length: 0\r\n\r\n')
        client.close()
        return
    host, port = target.rsplit(':', 1)
    upstream = socket.create_connection((host, int(port)))
    client.sendall(b'HTTP/1.1 200 Connection established\r\n\r\n')
    threading.Thread(target=relay, args=(client, upstream), daemon=True).start()
    relay(upstream, client)


def main():
    portfile, log, ttl = sys.argv[1], sys.argv[2], float(sys.argv[3])
    server = socket.socket()
    server.bind(('127.0.0.1', 0))
    server.listen(16)
    server.settimeout(ttl)
    with open(portfile + '.tmp', 'w') as f:
        f.write(str(server.getsockname()[1]))
    os.rename(portfile + '.tmp', portfile)
    try:
        while True:
            client, _addr = server.accept()
            threading.Thread(target=handle, args=(client, log), daemon=True).start()
    except socket.timeout:
        pass


if __name__ == '__main__':
    main()
