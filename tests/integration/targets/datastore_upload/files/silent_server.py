# Copyright: esxi.customizer contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Listen on a loopback port and never answer, to test timeouts.

Usage: silent_server.py <portfile> <seconds-to-live>
"""

from __future__ import annotations

import os
import socket
import sys
import time

server = socket.socket()
server.bind(('127.0.0.1', 0))
server.listen(16)  # the kernel completes TCP handshakes; nobody ever reads or writes
with open(sys.argv[1] + '.tmp', 'w') as f:
    f.write(str(server.getsockname()[1]))
os.rename(sys.argv[1] + '.tmp', sys.argv[1])
time.sleep(float(sys.argv[2]))
