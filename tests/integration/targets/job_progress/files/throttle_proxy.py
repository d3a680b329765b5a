# Copyright: esxi.customizer contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""An HTTP CONNECT proxy that relays what the client sends at most RATE bytes per second, to make an upload slow.

Usage: throttle_proxy.py <portfile> <bytes-per-second> <seconds-to-live>
"""

from __future__ import annotations

import os
import socket
import sys
import threading
import time

BLOCK = 64 * 1024


def relay(a, b, rate=None):
    start, sent = time.monotonic(), 0
    try:
        while True:
            data = a.recv(BLOCK)
            if not data:
                break
            b.sendall(data)
            sent += len(data)
            if rate:
                ahead = sent / rate - (time.monotonic() - start)
                if ahead > 0:
                    time.sleep(ahead)
    except OSError:
        pass
    finally:
        for s in (a, b):
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass


def handle(client, rate):
    head = b''
    while b'\r\n\r\n' not in head:
        data = client.recv(4096)
        if not data:
            client.close()
            return
        head += data
    target = head.split(b'\r\n', 1)[0].decode('latin-1').split(' ')[1]
    host, port = target.rsplit(':', 1)
    upstream = socket.create_connection((host, int(port)))
    client.sendall(b'HTTP/1.1 200 Connection established\r\n\r\n')
    threading.Thread(target=relay, args=(client, upstream, rate), daemon=True).start()
    relay(upstream, client)


def main():
    portfile, rate, ttl = sys.argv[1], float(sys.argv[2]), float(sys.argv[3])
    server = socket.socket()
    # small buffers, so that the client's count of bytes sent stays close to what got through
    server.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, BLOCK)
    server.bind(('127.0.0.1', 0))
    server.listen(16)
    server.settimeout(ttl)
    with open(portfile + '.tmp', 'w') as f:
        f.write(str(server.getsockname()[1]))
    os.rename(portfile + '.tmp', portfile)
    try:
        while True:
            client, _addr = server.accept()
            threading.Thread(target=handle, args=(client, rate), daemon=True).start()
    except socket.timeout:
        pass


if __name__ == '__main__':
    main()
