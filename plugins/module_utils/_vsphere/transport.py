# Copyright: esxi.customizer contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The HTTPS transport of the vSphere modules: ``http.client`` on a socket whose every step has a deadline.

Ansible's ``open_url`` (urllib) gives one socket timeout to everything, so a host that never answers held a task
for that whole timeout, and a server that sends one byte a second was never timed out at all. Here:

* connecting (TCP, the proxy's ``CONNECT`` tunnel and the TLS handshake together) must finish within
  ``connect_timeout``;
* sending: every block of the request (headers, each 1 MiB block of a file) must be taken by the server within
  ``idle_timeout``;
* the answer (status line, headers and body, read however slowly the caller likes) must arrive whole within
  ``idle_timeout`` of the moment the request was sent; a trickle of bytes does not restart the clock.

Errors are :class:`RemoteError` (:class:`NetworkTimeout` for the limits) naming the host, the phase and the option
to raise. The transport never follows redirects (the caller decides, see ``DatastoreClient._request``), opens one
connection per request, verifies TLS unless told otherwise and tunnels through an HTTP proxy with ``CONNECT``
(``proxy_host``/``proxy_port``, else ``https_proxy``/``no_proxy`` from the environment, as urllib does). It
implements the transport contract of :mod:`.soap`.
"""

from __future__ import annotations

import base64
import http.client
import io
import os
import platform
import socket
import ssl
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from urllib.parse import unquote, urlsplit
from urllib.request import getproxies_environment, proxy_bypass_environment

from ansible_collections.esxi.customizer.plugins.module_utils._errors import EsxiCustomizerError, printable
from ansible_collections.esxi.customizer.plugins.module_utils._vsphere.soap import RemoteError, describe_network_error

# http.client writes a file body in 8 KiB blocks; large blocks keep Python out of the way of the TLS writes.
BLOCK_SIZE = 1024 * 1024
USER_AGENT = 'esxi.customizer'
# Once sending failed, how long to look for an answer the server sent before it stopped reading (a 401, a 507):
# it is there already or not at all, so this only covers the last packets in flight.
EARLY_ANSWER_WAIT = 0.5

CONNECTING = 'connecting'
TUNNEL = 'opening the proxy tunnel'
TLS = 'in the TLS handshake'
SENDING = 'sending the request'
WAITING = 'waiting for the answer'

# Where Ansible's urls.get_ca_certs looks for CA files beside OpenSSL's default store, by platform.system():
# kept so that a certificate a user put there for Ansible is trusted here too.
_EXTRA_CA_DIRS = {
    'Linux': ('/etc/pki/ca-trust/extracted/pem', '/etc/pki/tls/certs', '/usr/share/ca-certificates/cacert.org'),
    'FreeBSD': ('/usr/local/share/certs',),
    'OpenBSD': ('/etc/ssl',),
    'NetBSD': ('/etc/openssl/certs',),
    'SunOS': ('/opt/local/etc/openssl/certs',),
    'AIX': ('/var/ssl/certs', '/opt/freeware/etc/ssl/certs'),
    'Darwin': ('/usr/local/etc/openssl',),
}


class NetworkTimeout(RemoteError):
    """A limit of :class:`Timeouts` was reached; ``phase`` says where, ``option`` which option sets the limit."""

    def __init__(self, message: str, *, phase: str, option: str, limit: float):
        self.phase = phase
        self.option = option
        self.limit = limit
        super().__init__(message)


@dataclass(frozen=True)
class Timeouts:
    connect: float  # TCP connect + proxy tunnel + TLS handshake, together
    idle: float  # each block sent; the whole answer


@dataclass(frozen=True)
class Proxy:
    host: str
    port: int
    authorization: str | None = None  # a Proxy-Authorization value, from user:password in https_proxy

    @property
    def name(self) -> str:
        return '%s:%d' % (self.host, self.port)


def _seconds(value: float) -> str:
    return '%g s' % value


def tls_context(*, validate_certs: bool, ca_path: str | None) -> ssl.SSLContext:
    """The TLS context Ansible's ``make_context`` builds for these options, without importing ``ansible.module_utils.urls``.

    Verification on: the system store plus the CA files Ansible also reads (``/etc/ansible`` and the platform's
    extra directories), or with ``ca_path`` that file alone. Off: no certificate or host name check.
    """
    if not validate_certs and not ca_path:
        # nothing is verified: no need to load the system's CA store (20 ms)
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
        return context
    try:
        context = ssl.create_default_context(cafile=ca_path)
    except FileNotFoundError:
        raise RemoteError('ca_path %s does not exist; give a PEM file holding the CA of the host' % ca_path) from None
    except (OSError, ssl.SSLError) as exc:
        raise RemoteError('ca_path %s cannot be used as a CA bundle (%s); give a PEM file holding the CA of the host' % (ca_path, exc)) from exc
    if not validate_certs:
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
        return context
    if ca_path:
        return context
    default_capath = ssl.get_default_verify_paths().capath
    for directory in _EXTRA_CA_DIRS.get(platform.system(), ()) + ('/etc/ansible',):
        if directory == default_capath or not os.path.isdir(directory):
            continue
        for entry in sorted(os.listdir(directory)):
            path = os.path.join(directory, entry)
            if os.path.splitext(entry)[1] in ('.pem', '.cer', '.crt') and os.path.isfile(path):
                try:
                    context.load_verify_locations(cafile=path)
                except (OSError, ssl.SSLError, ValueError):
                    pass  # not a certificate: Ansible skips such files too
    return context


def _parse_proxy(value: str) -> Proxy:
    if '://' not in value:
        value = 'http://' + value
    parts = urlsplit(value)
    try:
        port = parts.port or 8080
    except ValueError:
        raise RemoteError('the proxy %r in the environment has no valid port' % printable(value, 200)) from None
    if not parts.hostname:
        raise RemoteError('the proxy %r in the environment names no host' % printable(value, 200))
    authorization = None
    if parts.username is not None:
        token = '%s:%s' % (unquote(parts.username), unquote(parts.password or ''))
        authorization = 'Basic ' + base64.b64encode(token.encode('utf-8')).decode('ascii')
    return Proxy(parts.hostname, port, authorization)


def proxy_for(host: str, port: int, *, proxy_host: str | None = None, proxy_port: int | None = None) -> Proxy | None:
    """The proxy to reach ``host:port`` through: the explicit one for every host, else ``https_proxy`` unless ``no_proxy``
    names the host (urllib's rules, which ``open_url`` applied before)."""
    if proxy_host:
        return Proxy(proxy_host, int(proxy_port))
    proxies = getproxies_environment()
    value = proxies.get('https')
    if not value or proxy_bypass_environment('%s:%d' % (host, port), proxies):
        return None
    return _parse_proxy(value)


class _DeadlineReader(io.RawIOBase):
    """The receiving side of a socket for one answer: every read gets only the time left until ``deadline``."""

    def __init__(self, sock, deadline):
        super().__init__()
        self._sock = sock
        self.deadline = deadline

    def readable(self):
        return True

    def readinto(self, buffer):
        left = self.deadline - time.monotonic()
        if left <= 0:
            raise socket.timeout('timed out')
        self._sock.settimeout(left)
        return self._sock.recv_into(buffer)


class _Socket:
    """What ``http.client`` sees of our socket: a block write limited to the idle timeout, a deadline reader, no close
    (the response owns the socket, so that ``http.client`` closing its side cannot cut off an unread body)."""

    def __init__(self, sock, idle):
        self.sock = sock
        self.idle = idle
        self.reader = None

    def sendall(self, data):
        # settimeout lets go of the GIL (an fcntl): once per 1 MiB block, with the file reader thread waiting for
        # the GIL, that cost a switch per block (0.16 s of a 400 MiB upload); the idle timeout only needs setting once
        if self.sock.gettimeout() != self.idle:
            self.sock.settimeout(self.idle)
        self.sock.sendall(data)

    def answer(self, method, wait):
        self.reader = _DeadlineReader(self.sock, time.monotonic() + wait)
        return http.client.HTTPResponse(self, method=method)

    def makefile(self, mode, *args, **kwargs):
        return io.BufferedReader(self.reader, 64 * 1024)

    def close(self):
        pass


class Response:
    """An answer: ``status``, ``reason``, ``headers`` (case-insensitive ``get``), ``read([n])``, ``close()``."""

    def __init__(self, raw: http.client.HTTPResponse, sock: socket.socket, *, fail: Callable):
        self._raw = raw
        self._sock = sock
        self._fail = fail
        self.status = raw.status
        self.reason = raw.reason
        self.headers = raw.headers

    def read(self, n: int = -1) -> bytes:
        try:
            return self._raw.read(None if n is None or n < 0 else n)
        except EsxiCustomizerError:
            raise
        except (OSError, http.client.HTTPException) as exc:
            raise self._fail(WAITING, exc) from exc

    def close(self) -> None:
        self._raw.close()
        self._sock.close()


class HttpsTransport:
    """``transport(method, url, headers, body=body)`` of the :mod:`.soap` contract, over ``https://`` URLs only."""

    def __init__(self, *, timeouts: Timeouts, context: ssl.SSLContext, proxy: Callable | None = None, user_agent: str = USER_AGENT):
        self.timeouts = timeouts
        self.context = context
        # (host, port) -> Proxy or None; default: the environment's https_proxy/no_proxy
        self.proxy = proxy or proxy_for
        self.user_agent = user_agent

    def __call__(self, method: str, url: str, headers: Mapping, *, body: bytes | Iterable | None = None) -> Response:
        parts = urlsplit(url)
        if parts.scheme != 'https' or not parts.hostname:
            # credentials only ever travel over TLS
            raise RemoteError('%s is not an https:// URL; only HTTPS is spoken to a vSphere host' % printable(url, 200))
        host, port = parts.hostname, parts.port or 443
        target = (parts.path or '/') + ('?' + parts.query if parts.query else '')
        proxy = self.proxy(host, port)
        where = _Where(method=method, url=url, host=host, port=port, proxy=proxy, timeouts=self.timeouts)

        sock = self._connect(where)
        try:
            wrapped = _Socket(sock, self.timeouts.idle)
            conn = http.client.HTTPSConnection(host, port, timeout=self.timeouts.idle, context=self.context, blocksize=BLOCK_SIZE)
            conn.sock = wrapped
            merged = {'User-Agent': self.user_agent, 'Connection': 'close'}
            merged.update(headers)
            try:
                conn.request(method, target, body=body, headers=merged)
            except EsxiCustomizerError:
                raise
            except (OSError, http.client.HTTPException) as exc:
                early = self._early_answer(wrapped, method, where)
                if early is None:
                    raise where.fail(SENDING, exc) from exc
                return early
            try:
                raw = wrapped.answer(method, self.timeouts.idle)
                raw.begin()
            except (OSError, http.client.HTTPException) as exc:
                raise where.fail(WAITING, exc) from exc
            return Response(raw, sock, fail=where.fail)
        except BaseException:
            sock.close()
            raise

    def _early_answer(self, wrapped, method, where):
        """The answer a server sent before it stopped reading the request (an error status), if there is one."""
        try:
            raw = wrapped.answer(method, min(self.timeouts.idle, EARLY_ANSWER_WAIT))
            raw.begin()
        except (OSError, http.client.HTTPException):
            return None
        return Response(raw, wrapped.sock, fail=where.fail)

    def _connect(self, where):
        deadline = time.monotonic() + self.timeouts.connect
        proxy = where.proxy
        phase = CONNECTING
        sock = None
        try:
            sock = _tcp_connect(proxy.host if proxy else where.host, proxy.port if proxy else where.port, deadline=deadline)
            if proxy:
                phase = TUNNEL
                _tunnel(sock, where, deadline=deadline)
            phase = TLS
            tls = self.context.wrap_socket(sock, server_hostname=where.host, do_handshake_on_connect=False)
            sock = tls
            tls.settimeout(max(deadline - time.monotonic(), 0.001))
            tls.do_handshake()
            return tls
        except BaseException as exc:
            if sock is not None:
                sock.close()
            if isinstance(exc, EsxiCustomizerError) or not isinstance(exc, (OSError, http.client.HTTPException)):
                raise
            raise where.fail(phase, exc) from exc


def _tcp_connect(host, port, *, deadline):
    """``socket.create_connection`` with one deadline for all the addresses of ``host`` (not one timeout each)."""
    last = None
    for family, kind, proto, _name, address in socket.getaddrinfo(host, port, 0, socket.SOCK_STREAM):
        left = deadline - time.monotonic()
        if left <= 0:
            break
        sock = socket.socket(family, kind, proto)
        try:
            sock.settimeout(left)
            sock.connect(address)
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            return sock
        except OSError as exc:
            sock.close()
            last = exc
    raise last or socket.timeout('timed out')


def _tunnel(sock, where, *, deadline):
    authority = '[%s]:%d' % (where.host, where.port) if ':' in where.host else '%s:%d' % (where.host, where.port)
    lines = ['CONNECT %s HTTP/1.1' % authority, 'Host: %s' % authority]
    if where.proxy.authorization:
        lines.append('Proxy-Authorization: %s' % where.proxy.authorization)
    sock.settimeout(max(deadline - time.monotonic(), 0.001))
    sock.sendall(('\r\n'.join(lines) + '\r\n\r\n').encode('latin-1'))
    wrapped = _Socket(sock, where.timeouts.connect)
    wrapped.reader = _DeadlineReader(sock, deadline)
    answer = http.client.HTTPResponse(wrapped, method='CONNECT')
    # the status line and headers only: the proxy sends nothing more before our TLS hello, and the body is not read
    answer.begin()
    status, reason = answer.status, answer.reason
    if status != 200:
        hint = ' (the proxy wants credentials: put them in https_proxy as http://user:password@host:port)' if status == 407 else ''
        raise RemoteError(
            'proxy %s refused to open a tunnel to %s:%d: HTTP %s %s%s' % (where.proxy.name, where.host, where.port, status, printable(reason or '', 100), hint)
        )


@dataclass(frozen=True)
class _Where:
    """One request, for the messages."""

    method: str
    url: str
    host: str
    port: int
    proxy: Proxy | None
    timeouts: Timeouts

    def fail(self, phase, exc):
        if isinstance(exc, (socket.timeout, TimeoutError)) or (isinstance(exc, ssl.SSLError) and 'timed out' in str(exc)):
            return self._timeout(phase)
        if phase in (SENDING, WAITING) and isinstance(exc, (ConnectionError, http.client.RemoteDisconnected, http.client.IncompleteRead)):
            return RemoteError(
                '%s %s: %s closed the connection while %s (%s). The host may have refused the file: datastore full, '
                'file in use (an ISO connected to a VM), or missing permission.' % (self.method, self.url, self.name, phase, exc or type(exc).__name__)
            )
        if phase in (SENDING, WAITING) and isinstance(exc, http.client.HTTPException):
            return RemoteError('%s %s: %s sent an answer that is not HTTP (%s)' % (self.method, self.url, self.name, printable(str(exc), 200)))
        message = describe_network_error(exc, self.url)
        if self.proxy and phase in (CONNECTING, TUNNEL):
            message = 'Through proxy %s (%s): %s' % (self.proxy.name, phase, message)
        return RemoteError(message)

    @property
    def name(self):
        return '[%s]:%d' % (self.host, self.port) if ':' in self.host else '%s:%d' % (self.host, self.port)

    def _timeout(self, phase):
        option = 'connect_timeout' if phase in (CONNECTING, TUNNEL, TLS) else 'idle_timeout'
        limit = self.timeouts.connect if option == 'connect_timeout' else self.timeouts.idle
        values = {'host': self.name, 'proxy': self.proxy.name if self.proxy else '', 'limit': _seconds(limit)}
        key = 'proxy' if phase == CONNECTING and self.proxy else phase
        text = _TIMEOUT_TEXT[key] % values
        return NetworkTimeout('%s %s: %s.' % (self.method, self.url, text), phase=phase, option=option, limit=limit)


# what timed out, and what to check or raise
_TIMEOUT_TEXT = {
    'proxy': (
        'timed out connecting to proxy %(proxy)s for %(host)s: no TCP connection within %(limit)s (connect_timeout). '
        'Check proxy_host and proxy_port (or https_proxy), or raise connect_timeout'
    ),
    CONNECTING: (
        'timed out connecting to %(host)s: no TCP connection within %(limit)s (connect_timeout). '
        'Check hostname, port and firewalls, or raise connect_timeout if the network is that slow'
    ),
    TUNNEL: (
        'timed out opening a tunnel to %(host)s through proxy %(proxy)s: no answer to CONNECT within %(limit)s '
        '(connect_timeout); raise connect_timeout if the proxy is that slow'
    ),
    TLS: (
        'timed out in the TLS handshake with %(host)s: not done within %(limit)s of connecting (connect_timeout). '
        'Check that port is the HTTPS port of the host, or raise connect_timeout'
    ),
    SENDING: (
        'timed out sending the request to %(host)s: it took no data for %(limit)s (idle_timeout; each block of up to 1 MiB '
        'must be taken within that time). The datastore may be stalled; raise idle_timeout if it is just slow'
    ),
    WAITING: (
        'timed out waiting for the answer from %(host)s: no complete answer within %(limit)s of sending the request '
        '(idle_timeout). The host may be busy writing the file; raise idle_timeout if it is just slow'
    ),
}
