# Copyright: esxi.customizer contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The HTTPS transport against real sockets on loopback: TLS servers of our own, a proxy, and servers that misbehave
(never accept, accept and stay silent, drip an answer, stop reading the upload).

The failure tests check that each limit ends the request within the limit plus a margin and that the message names
the host, the phase and the option; the happy path is not timed (speed is measured in bench/).
"""

from __future__ import annotations

import datetime
import hashlib
import ipaddress
import socket
import ssl
import threading
import time

import pytest

from ansible_collections.esxi.customizer.plugins.module_utils._vsphere.datastore import DatastoreClient
from ansible_collections.esxi.customizer.plugins.module_utils._vsphere.soap import RemoteError
from ansible_collections.esxi.customizer.plugins.module_utils._vsphere.transport import (
    HttpsTransport,
    NetworkTimeout,
    Proxy,
    Timeouts,
    proxy_for,
    tls_context,
)

cryptography = pytest.importorskip('cryptography')
from cryptography import x509  # noqa: E402
from cryptography.hazmat.primitives import hashes, serialization  # noqa: E402
from cryptography.hazmat.primitives.asymmetric import ec  # noqa: E402
from cryptography.x509.oid import NameOID  # noqa: E402

# Generous enough for a loaded 2-CPU machine, small against the limits tested.
MARGIN = 1.5


@pytest.fixture(scope='module')
def cert(tmp_path_factory):
    """A self-signed certificate for 127.0.0.1 and localhost: (cert path, key path)."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, 'localhost')])
    now = datetime.datetime.now(datetime.timezone.utc)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(days=1))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName('localhost'), x509.IPAddress(ipaddress.ip_address('127.0.0.1'))]), critical=False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    directory = tmp_path_factory.mktemp('tls')
    cert_path, key_path = directory / 'cert.pem', directory / 'key.pem'
    cert_path.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()))
    return str(cert_path), str(key_path)


class Server:
    """Listens on 127.0.0.1; each connection goes to ``handler(conn)`` on a thread, after a TLS handshake when ``cert``."""

    def __init__(self, handler, cert=None, rcvbuf=None):
        self.handler = handler
        self.listener = socket.socket()
        if rcvbuf:
            self.listener.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
        self.listener.bind(('127.0.0.1', 0))
        self.listener.listen(16)
        self.port = self.listener.getsockname()[1]
        self.context = None
        if cert:
            self.context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            self.context.load_cert_chain(*cert)
        self.stopped = threading.Event()
        self.conns = []
        self.requests = []
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self):
        while not self.stopped.is_set():
            try:
                conn, _addr = self.listener.accept()
            except OSError:
                return
            self.conns.append(conn)
            threading.Thread(target=self._serve, args=(conn,), daemon=True).start()

    def _serve(self, conn):
        try:
            if self.context:
                conn = self.context.wrap_socket(conn, server_side=True)
                self.conns.append(conn)
            self.handler(self, conn)
        except OSError:
            pass

    def read_head(self, conn):
        data = b''
        while b'\r\n\r\n' not in data:
            chunk = conn.recv(65536)
            if not chunk:
                break
            data += chunk
        head, _sep, rest = data.partition(b'\r\n\r\n')
        self.requests.append(head.decode('latin-1'))
        return head.decode('latin-1'), rest

    def url(self, path='/folder/x.iso?dcPath=ha-datacenter&dsName=ds1'):
        return 'https://127.0.0.1:%d%s' % (self.port, path)

    def close(self):
        self.stopped.set()
        self.listener.close()
        for conn in self.conns:
            try:
                conn.close()
            except OSError:
                pass


@pytest.fixture
def serve():
    servers = []

    def start(handler, cert=None, rcvbuf=None):
        server = Server(handler, cert, rcvbuf)
        servers.append(server)
        return server

    yield start
    for server in servers:
        server.close()


def transport(cert=None, *, connect=2.0, idle=2.0, proxy=None):
    context = tls_context(validate_certs=cert is not None, ca_path=cert[0] if cert else None)
    return HttpsTransport(timeouts=Timeouts(connect=connect, idle=idle), context=context, proxy=lambda host, port: proxy)


def answer(status=200, body=b'', headers=()):
    lines = ['HTTP/1.1 %d X' % status, 'Content-Length: %d' % len(body), 'Connection: close'] + list(headers)
    return ('\r\n'.join(lines) + '\r\n\r\n').encode() + body


def ok_handler(server, conn):
    head, rest = server.read_head(conn)
    length = int(next((line.split(':', 1)[1] for line in head.split('\r\n') if line.lower().startswith('content-length:')), '0'))
    digest = hashlib.sha256(rest)
    got = len(rest)
    while got < length:
        chunk = conn.recv(1024 * 1024)
        if not chunk:
            break
        digest.update(chunk)
        got += len(chunk)
    conn.sendall(answer(200, ('%d %s' % (got, digest.hexdigest())).encode(), ['X-Test: yes']))
    conn.close()


def timed_failure(call):
    start = time.monotonic()
    with pytest.raises(NetworkTimeout) as info:
        call()
    return info.value, time.monotonic() - start


# --- what the transport must keep doing ---------------------------------------------------------------------------


def test_get_verifies_the_certificate_against_ca_path(serve, cert):
    server = serve(ok_handler, cert)
    response = transport(cert)('GET', server.url(), {'Authorization': 'Basic eA=='}, body=None)
    assert response.status == 200 and response.headers.get('x-TEST') == 'yes'
    assert response.read() == b'0 ' + hashlib.sha256(b'').hexdigest().encode()
    response.close()
    head = server.requests[0]
    assert head.startswith('GET /folder/x.iso?dcPath=ha-datacenter&dsName=ds1 HTTP/1.1\r\n')
    assert 'Host: 127.0.0.1:%d' % server.port in head and 'Authorization: Basic eA==' in head


def test_an_unknown_certificate_is_refused_with_the_fix(serve, cert):
    server = serve(ok_handler, cert)
    system_trust = HttpsTransport(timeouts=Timeouts(2, 2), context=tls_context(validate_certs=True, ca_path=None), proxy=lambda host, port: None)
    with pytest.raises(RemoteError, match='TLS certificate verification failed') as info:
        system_trust('GET', server.url(), {}, body=None)
    assert 'validate_certs' in str(info.value) and 'ca_path' in str(info.value)


def test_validate_certs_false_accepts_a_self_signed_certificate(serve, cert):
    server = serve(ok_handler, cert)
    assert transport()('GET', server.url(), {}, body=None).status == 200


def test_a_missing_ca_path_is_named():
    with pytest.raises(RemoteError, match='ca_path /nonexistent/ca.pem does not exist'):
        tls_context(validate_certs=True, ca_path='/nonexistent/ca.pem')


def test_a_streamed_body_arrives_whole_with_its_length(serve, cert):
    server = serve(ok_handler, cert)
    blocks = [bytes([i]) * (1024 * 1024) for i in range(5)] + [b'tail']
    total = sum(len(b) for b in blocks)
    response = transport(cert)('PUT', server.url(), {'Content-Length': str(total)}, body=iter(blocks))
    assert response.read() == ('%d %s' % (total, hashlib.sha256(b''.join(blocks)).hexdigest())).encode()


def test_a_redirect_is_returned_not_followed(serve, cert):
    def redirect(server, conn):
        server.read_head(conn)
        conn.sendall(answer(302, b'', ['Location: https://elsewhere.example/x']))

    server = serve(redirect, cert)
    response = transport(cert)('GET', server.url(), {'Authorization': 'Basic eA=='}, body=None)
    assert response.status == 302 and response.headers.get('Location') == 'https://elsewhere.example/x'
    assert len(server.requests) == 1


def test_plain_http_is_refused_before_anything_is_sent():
    with pytest.raises(RemoteError, match='not an https:// URL'):
        transport()('GET', 'http://127.0.0.1:1/folder', {'Authorization': 'Basic eA=='}, body=None)


def test_an_early_error_answer_is_returned_when_the_server_stops_reading(serve, cert):
    # (a server that closes at once resets the connection, and the kernel may drop the answer with it: not tested)
    def refuse(server, conn):
        server.read_head(conn)
        conn.sendall(answer(507, b'no space left'))
        time.sleep(5)

    server = serve(refuse, cert, rcvbuf=16384)
    body = (b'\0' * (1024 * 1024) for _block in range(64))
    response = transport(cert, idle=1.0)('PUT', server.url(), {'Content-Length': str(64 * 1024 * 1024)}, body=body)
    assert response.status == 507 and response.read() == b'no space left'


# --- proxies ------------------------------------------------------------------------------------------------------


def connect_proxy(log):
    def handle(server, client):
        head, _rest = server.read_head(client)
        log.append(head.split('\r\n')[0])
        target = head.split(' ')[1]
        host, port = target.rsplit(':', 1)
        upstream = socket.create_connection((host, int(port)))
        client.sendall(b'HTTP/1.1 200 Connection established\r\n\r\n')

        def pump(a, b):
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

        threading.Thread(target=pump, args=(client, upstream), daemon=True).start()
        pump(upstream, client)

    return handle


def test_https_through_a_connect_proxy(serve, cert):
    server = serve(ok_handler, cert)
    log = []
    proxy = serve(connect_proxy(log))
    response = transport(cert, proxy=Proxy('127.0.0.1', proxy.port))('GET', server.url(), {}, body=None)
    assert response.status == 200
    assert log == ['CONNECT 127.0.0.1:%d HTTP/1.1' % server.port]


def test_a_proxy_that_refuses_the_tunnel_is_named(serve, cert):
    def refuse(server, conn):
        server.read_head(conn)
        conn.sendall(b'HTTP/1.1 407 Proxy Authentication Required\r\nContent-Length: 0\r\n\r\n')

    proxy = serve(refuse)
    with pytest.raises(RemoteError, match=r'proxy 127.0.0.1:\d+ refused to open a tunnel to 127.0.0.1:443: HTTP 407 .*user:password'):
        transport(cert, proxy=Proxy('127.0.0.1', proxy.port))('GET', 'https://127.0.0.1/folder', {}, body=None)


def test_proxy_from_the_environment_and_no_proxy(monkeypatch):
    for name in ('http_proxy', 'HTTP_PROXY', 'https_proxy', 'HTTPS_PROXY', 'no_proxy', 'NO_PROXY', 'REQUEST_METHOD'):
        monkeypatch.delenv(name, raising=False)
    assert proxy_for('esx01', 443) is None
    monkeypatch.setenv('https_proxy', 'http://us%40r:p%3Aw@proxy.example:3128')
    proxy = proxy_for('esx01', 443)
    assert (proxy.host, proxy.port) == ('proxy.example', 3128)
    assert proxy.authorization == 'Basic dXNAcjpwOnc='  # us@r:p:w
    monkeypatch.setenv('no_proxy', '.example.com,esx02')
    assert proxy_for('esx02', 443) is None and proxy_for('vc.example.com', 443) is None
    assert proxy_for('esx01', 443) is not None
    # an explicit proxy_host is used whatever no_proxy says
    assert proxy_for('esx02', 443, proxy_host='p', proxy_port=8080) == Proxy('p', 8080)


# --- timeouts -----------------------------------------------------------------------------------------------------


def test_a_server_that_never_accepts_fails_within_connect_timeout():
    listener = socket.socket()
    listener.bind(('127.0.0.1', 0))
    listener.listen(0)
    port = listener.getsockname()[1]
    # fill the accept queue: further SYNs are dropped, so a connect hangs as with a host that is down
    fillers = []
    for _i in range(3):
        filler = socket.socket()
        filler.setblocking(False)
        try:
            filler.connect(('127.0.0.1', port))
        except BlockingIOError:
            pass
        fillers.append(filler)
    time.sleep(0.1)
    try:
        err, elapsed = timed_failure(lambda: transport(connect=1.0, idle=30)('GET', 'https://127.0.0.1:%d/folder' % port, {}, body=None))
    finally:
        for s in fillers + [listener]:
            s.close()
    assert err.phase == 'connecting' and err.option == 'connect_timeout'
    assert 'timed out connecting to 127.0.0.1:%d: no TCP connection within 1 s (connect_timeout)' % port in str(err)
    assert 'raise connect_timeout' in str(err)
    assert 1.0 <= elapsed < 1.0 + MARGIN


def test_a_black_hole_fails_in_the_tls_handshake_within_connect_timeout(serve):
    def silent(server, conn):
        time.sleep(10)

    server = serve(silent)  # plain TCP: accepts, never answers the TLS hello
    err, elapsed = timed_failure(lambda: transport(connect=1.0, idle=30)('GET', server.url(), {}, body=None))
    assert err.phase == 'in the TLS handshake' and err.option == 'connect_timeout'
    assert 'GET %s: timed out in the TLS handshake with 127.0.0.1:%d: not done within 1 s' % (server.url(), server.port) in str(err)
    assert 1.0 <= elapsed < 1.0 + MARGIN


def test_a_server_that_never_answers_fails_within_idle_timeout(serve, cert):
    def silent(server, conn):
        server.read_head(conn)
        time.sleep(10)

    server = serve(silent, cert)
    err, elapsed = timed_failure(lambda: transport(cert, connect=30, idle=1.0)('GET', server.url(), {}, body=None))
    assert err.phase == 'waiting for the answer' and err.option == 'idle_timeout'
    assert 'timed out waiting for the answer from 127.0.0.1:%d: no complete answer within 1 s' % server.port in str(err)
    assert 'raise idle_timeout' in str(err)
    assert 1.0 <= elapsed < 1.0 + MARGIN


def drip(data, every):
    def handler(server, conn):
        server.read_head(conn)
        for i in range(len(data)):
            conn.sendall(data[i : i + 1])
            time.sleep(every)

    return handler


def test_an_answer_dripping_one_byte_every_2_s_fails_within_idle_timeout(serve, cert):
    # each byte comes well within the limit: only a deadline for the whole answer stops this
    server = serve(drip(answer(200, b'<soap/>'), 2.0), cert)
    err, elapsed = timed_failure(lambda: transport(cert, connect=30, idle=3.0)('POST', server.url('/sdk'), {}, body=b'<x/>'))
    assert err.phase == 'waiting for the answer' and err.option == 'idle_timeout'
    assert 'within 3 s of sending the request (idle_timeout)' in str(err)
    assert 3.0 <= elapsed < 3.0 + MARGIN


def test_a_dripping_body_fails_while_it_is_read(serve, cert):
    def headers_then_drip(server, conn):
        server.read_head(conn)
        conn.sendall(b'HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n')
        for _i in range(100):
            conn.sendall(b'x')
            time.sleep(0.3)

    server = serve(headers_then_drip, cert)
    response = transport(cert, connect=30, idle=1.5)('GET', server.url(), {}, body=None)
    assert response.status == 200
    err, elapsed = timed_failure(lambda: response.read(4096))
    assert err.phase == 'waiting for the answer'
    assert elapsed < 1.5 + MARGIN


def test_a_server_that_stops_reading_the_upload_fails_within_idle_timeout(serve, cert):
    def stop_reading(server, conn):
        server.read_head(conn)
        time.sleep(10)

    server = serve(stop_reading, cert, rcvbuf=16384)
    body = (b'\0' * (1024 * 1024) for _block in range(512))
    err, elapsed = timed_failure(lambda: transport(cert, connect=30, idle=1.0)('PUT', server.url(), {'Content-Length': str(512 * 1024 * 1024)}, body=body))
    assert err.phase == 'sending the request' and err.option == 'idle_timeout'
    assert 'PUT %s: timed out sending the request to 127.0.0.1:%d: it took no data for 1 s (idle_timeout' % (server.url(), server.port) in str(err)
    assert elapsed < 1.0 + MARGIN


def test_a_silent_proxy_fails_within_connect_timeout(serve):
    def silent(server, conn):
        time.sleep(10)

    proxy = serve(silent)
    err, elapsed = timed_failure(
        lambda: transport(connect=1.0, idle=30, proxy=Proxy('127.0.0.1', proxy.port))('GET', 'https://127.0.0.1:9/folder', {}, body=None)
    )
    assert err.phase == 'opening the proxy tunnel' and err.option == 'connect_timeout'
    assert 'through proxy 127.0.0.1:%d: no answer to CONNECT within 1 s (connect_timeout)' % proxy.port in str(err)
    assert 1.0 <= elapsed < 1.0 + MARGIN


def test_the_datastore_client_passes_the_timeout_message_on(serve, cert):
    server = serve(drip(answer(200, b'<html/>'), 2.0), cert)
    client = DatastoreClient(
        transport(cert, connect=30, idle=1.0), '127.0.0.1', server.port, username='u', password='p', datacenter='ha-datacenter', datastore='ds1'
    )
    with pytest.raises(NetworkTimeout, match=r'GET https://127.0.0.1:\d+/folder\?dcPath=ha-datacenter&dsName=ds1: timed out waiting for the answer'):
        client.check_datastore()
