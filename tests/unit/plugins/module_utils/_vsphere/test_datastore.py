# Copyright: esxi.customizer contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""URL building, sidecar parsing, the upload decision and the request sequence of _datastore.

The request sequence runs against a small in-memory stand-in for the /folder and /sdk endpoints;
the real thing (the govmomi simulator) is exercised by the datastore_upload integration target.
"""

from __future__ import annotations

import hashlib
import re
import socket
import ssl
import urllib.error
from urllib.parse import parse_qs, unquote, urlsplit

import pytest

from ansible_collections.esxi.customizer.plugins.module_utils._vsphere.datastore import (
    IN_PROGRESS,
    DatastoreClient,
    HashingReader,
    LocalFileError,
    RemoteState,
    base_url,
    decide,
    folder_url,
    format_sidecar,
    local_file,
    normalize_path,
    parse_sidecar,
    upload,
)
from ansible_collections.esxi.customizer.plugins.module_utils._errors import EsxiCustomizerError
from ansible_collections.esxi.customizer.plugins.module_utils._vsphere.soap import (
    AuthenticationError,
    NotFoundError,
    RemoteError,
    SoapFault,
    describe_network_error,
    parse_response,
)

BASE = 'https://esx.example:443'
DIGEST = hashlib.sha256(b'abc').hexdigest()


# --- URL building -------------------------------------------------------------------------------


def test_folder_url_quotes_path_and_keeps_slashes():
    url = folder_url(BASE, 'ha-datacenter', 'datastore1', path='iso/ESXi 8.0/a#b?c.iso')
    assert url == 'https://esx.example:443/folder/iso/ESXi%208.0/a%23b%3Fc.iso?dcPath=ha-datacenter&dsName=datastore1'


def test_folder_url_double_encodes_ampersand_in_datacenter_only():
    url = folder_url(BASE, 'R&D/DC 1', 'ds&1', path='x.iso')
    query = urlsplit(url).query
    assert query == 'dcPath=R%2526D%2FDC%201&dsName=ds%261'
    # one decoding (what every HTTP server does) leaves what vCenter then decodes once more
    assert parse_qs(query)['dcPath'] == ['R%26D/DC 1']
    assert unquote(parse_qs(query)['dcPath'][0]) == 'R&D/DC 1'
    assert parse_qs(query)['dsName'] == ['ds&1']


def test_folder_url_uses_percent20_not_plus():
    assert '+' not in folder_url(BASE, 'my dc', 'my ds', path='a b')


def test_folder_url_of_datastore_root():
    assert folder_url(BASE, 'DC0', 'LocalDS_0', path=None) == 'https://esx.example:443/folder?dcPath=DC0&dsName=LocalDS_0'


def test_folder_url_non_ascii_path():
    assert folder_url(BASE, 'dc', 'ds', path='iso/größe.iso').startswith(BASE + '/folder/iso/gr%C3%B6%C3%9Fe.iso?')


def test_base_url_brackets_ipv6():
    assert base_url('fe80::1', 8443) == 'https://[fe80::1]:8443'
    assert base_url('[fe80::1]', 443) == 'https://[fe80::1]:443'
    assert base_url(' esx01 ', 443) == 'https://esx01:443'


@pytest.mark.parametrize(
    'raw, expected',
    [
        ('/iso/x.iso', 'iso/x.iso'),
        ('iso//sub/./x.iso', 'iso/sub/x.iso'),
        ('x.iso', 'x.iso'),
    ],
)
def test_normalize_path(raw, expected):
    assert normalize_path(raw) == expected


@pytest.mark.parametrize(
    'raw, words',
    [
        ('', 'empty'),
        ('   ', 'empty'),
        ('/', 'names no file'),
        ('iso/../../etc/x', '..'),
        ('iso/', 'folder'),
        ('[datastore1] iso/x.iso', 'datastore'),
        ('iso\\x.iso', 'separator'),
    ],
)
def test_normalize_path_refuses(raw, words):
    with pytest.raises(EsxiCustomizerError, match=re.escape(words)):
        normalize_path(raw)


# --- sidecar ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    'data',
    [
        (DIGEST + '  x.iso\n').encode(),
        (DIGEST + ' *x.iso\n').encode(),
        (DIGEST.upper() + '\n').encode(),
        DIGEST.encode(),
        ('  ' + DIGEST + '  x.iso\r\n').encode(),
    ],
)
def test_parse_sidecar_accepts_sha256sum_forms(data):
    assert parse_sidecar(data) == DIGEST


@pytest.mark.parametrize(
    'data', [None, b'', IN_PROGRESS, b'abc  x.iso\n', (DIGEST + 'ff  x').encode(), b'\xff\xfe' + DIGEST.encode(), hashlib.sha1(b'x').hexdigest().encode()]
)
def test_parse_sidecar_rejects_other_content(data):
    assert parse_sidecar(data) is None


def test_format_sidecar_round_trips_and_names_the_file():
    data = format_sidecar(DIGEST, 'iso/sub/x.iso')
    assert data == (DIGEST + '  x.iso\n').encode()
    assert parse_sidecar(data) == DIGEST


# --- decision -----------------------------------------------------------------------------------


def test_decide_branches():
    assert decide(3, RemoteState(None, None))[0] is True
    assert decide(3, RemoteState(4, DIGEST))[0] is True
    assert decide(3, RemoteState(3, None))[0] is True
    assert decide(3, RemoteState(3, DIGEST))[0] is None  # needs the local digest
    assert decide(3, RemoteState(3, DIGEST), DIGEST) == (False, 'size and sidecar checksum match the local file')
    assert decide(3, RemoteState(3, DIGEST), '0' * 64)[0] is True
    assert decide(3, RemoteState(3, DIGEST), DIGEST, force=True) == (True, 'force is set')


# --- local file ---------------------------------------------------------------------------------


def test_local_file_errors_name_the_file(tmp_path):
    with pytest.raises(LocalFileError, match='missing.iso: source file does not exist'):
        local_file(str(tmp_path / 'missing.iso'))
    with pytest.raises(LocalFileError, match='not a regular file'):
        local_file(str(tmp_path))
    f = tmp_path / 'x.iso'
    f.write_bytes(b'abc')
    assert local_file(str(f)).size == 3


def test_hashing_reader_streams_in_chunks_and_hashes(tmp_path):
    f = tmp_path / 'x.bin'
    data = bytes(range(256)) * 100
    f.write_bytes(data)
    reader = HashingReader(str(f), len(data), chunk_size=1000)
    chunks = list(reader)
    assert max(len(c) for c in chunks) == 1000
    assert b''.join(chunks) == data
    assert reader.hexdigest() == hashlib.sha256(data).hexdigest()


def test_hashing_reader_notices_a_file_that_changed_size(tmp_path):
    f = tmp_path / 'x.bin'
    f.write_bytes(b'a' * 10)
    with pytest.raises(LocalFileError, match='grew'):
        list(HashingReader(str(f), 5, chunk_size=4))
    with pytest.raises(LocalFileError, match='shrank'):
        list(HashingReader(str(f), 20, chunk_size=4))


# --- network error wording ----------------------------------------------------------------------


def test_tls_failure_says_how_to_fix():
    err = ssl.SSLCertVerificationError(1, 'certificate verify failed')
    err.verify_message = 'self-signed certificate'
    msg = describe_network_error(urllib.error.URLError(err), 'https://h/x')
    assert 'self-signed certificate' in msg
    assert 'validate_certs' in msg and 'ca_path' in msg


def test_timeout_names_the_limit():
    msg = describe_network_error(urllib.error.URLError(socket.timeout('timed out')), 'https://h/x', 30)
    assert 'timed out after 30 seconds' in msg and 'idle_timeout' in msg
    assert 'timed out' in describe_network_error(TimeoutError(), 'https://h/x', 5)


def test_refused_and_unresolvable():
    assert 'connection refused' in describe_network_error(urllib.error.URLError(ConnectionRefusedError(111, 'x')), 'https://h:1/')
    gai = socket.gaierror(-2, 'Name or service not known')
    assert 'Name or service not known' in describe_network_error(urllib.error.URLError(gai), 'https://nohost/')


# --- SOAP answers -------------------------------------------------------------------------------

ENV = (
    '<?xml version="1.0"?><soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/" '
    'xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"><soapenv:Body>%s</soapenv:Body></soapenv:Envelope>'
)


def fault(kind, text):
    return (
        ENV
        % (
            '<soapenv:Fault><faultcode>ServerFaultCode</faultcode><faultstring>%s</faultstring>'
            '<detail><%sFault xmlns="urn:vim25" xsi:type="%s"></%sFault></detail></soapenv:Fault>' % (text, kind, kind, kind)
        )
    ).encode()


def test_parse_response_raises_faults_with_their_type():
    with pytest.raises(SoapFault) as info:
        parse_response(fault('InvalidLogin', 'Login failure'), 'Login')
    assert info.value.fault_type == 'InvalidLogin'
    assert 'Login failure' in str(info.value)


def test_parse_response_refuses_non_soap():
    with pytest.raises(RemoteError, match='not SOAP XML'):
        parse_response(b'<html>proxy error', 'Login')
    with pytest.raises(RemoteError, match='not SOAP XML .*DTD or entity definition'):
        parse_response(b'<!DOCTYPE e [<!ENTITY x "y">]><soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/"/>', 'Login')


# --- request sequence against an in-memory endpoint ---------------------------------------------


class Response:
    def __init__(self, status, body=b'', headers=None):
        self.status = status
        self.body = body
        self._headers = {k.lower(): v for k, v in (headers or {}).items()}
        self.headers = self
        self.closed = False

    def get(self, name, default=None):
        return self._headers.get(name.lower(), default)

    def read(self, n=-1):
        return self.body if n < 0 else self.body[:n]

    def close(self):
        self.closed = True


class FakeHost:
    """Files by datastore path, HTTP Basic auth, and the five SOAP calls the client makes."""

    def __init__(self, password='pw', head_status=None):
        self.files = {}
        self.dirs = {''}
        self.password = password
        self.head_status = head_status
        self.log = []

    def __call__(self, method, url, headers, body):
        parts = urlsplit(url)
        if parts.path == '/sdk':
            return self.soap(body.decode())
        path = unquote(parts.path[len('/folder/') :]) if parts.path.startswith('/folder/') else None
        ds = parse_qs(parts.query)['dsName'][0]
        if not isinstance(body, (bytes, type(None))):
            assert int(headers['Content-Length']) >= 0
            streamed = body
            body = b''.join(body)
        else:
            streamed = None
        self.log.append((method, path, body, streamed))
        if headers.get('Authorization') != 'Basic dXNlcjpwdw==':  # user:pw
            return Response(401)
        if ds != 'ds1':
            return Response(404)
        if path is None:
            return Response(200, b'<html>listing</html>')
        if method == 'HEAD':
            if self.head_status:
                return Response(self.head_status)
            if path.endswith('/') and path.rstrip('/') in self.dirs:
                return Response(200, b'<html>listing</html>')  # what ESXi and the simulator answer for a directory
            if path not in self.files:
                return Response(404)
            return Response(200, headers={'Content-Length': str(len(self.files[path]))})
        if method == 'GET':
            if path not in self.files:
                return Response(404)
            data = self.files[path]
            if headers.get('Range') == 'bytes=0-0':
                return Response(206, data[:1], {'Content-Range': 'bytes 0-0/%d' % len(data)})
            return Response(200, data, {'Content-Length': str(len(data))})
        if method == 'PUT':
            assert int(headers['Content-Length']) == len(body)
            if path.rpartition('/')[0] not in self.dirs:
                return Response(500, b'no such folder')
            self.files[path] = body
            return Response(200)
        raise AssertionError(method)

    def soap(self, text):
        call = re.search(r'<soapenv:Body><(\w+)', text).group(1)
        self.log.append(('SOAP', call, None, None))
        answers = {
            'RetrieveServiceContent': '<returnval><sessionManager type="SessionManager">sm</sessionManager>'
            '<searchIndex type="SearchIndex">si</searchIndex><fileManager type="FileManager">fm</fileManager>'
            '<about><apiType>HostAgent</apiType><apiVersion>8.0.3.0</apiVersion></about></returnval>',
            'Logout': '',
        }
        if call == 'Login':
            if '<password>%s</password>' % self.password not in text:
                return Response(500, fault('InvalidLogin', 'Login failure'))
            return Response(
                200,
                (ENV % '<LoginResponse xmlns="urn:vim25"><returnval/></LoginResponse>').encode(),
                {'Set-Cookie': 'vmware_soap_session="abc"; Path=/; HttpOnly'},
            )
        if call == 'FindByInventoryPath':
            found = '<inventoryPath>ha-datacenter</inventoryPath>' in text
            answers[call] = '<returnval type="Datacenter">ha-datacenter</returnval>' if found else ''
        if call == 'MakeDirectory':
            folder = re.search(r'<name>\[ds1\] (.*?)</name>', text).group(1)
            assert '<createParentDirectories>true</createParentDirectories>' in text
            parts = folder.split('/')
            for i in range(1, len(parts) + 1):
                self.dirs.add('/'.join(parts[:i]))
            answers[call] = ''
        return Response(200, (ENV % '<%sResponse xmlns="urn:vim25">%s</%sResponse>' % (call, answers[call], call)).encode())

    def calls(self, method):
        return [entry for entry in self.log if entry[0] == method]


def client(host, password='pw', datastore='ds1', datacenter='ha-datacenter'):
    return DatastoreClient(host, 'esx.example', 443, username='user', password=password, datacenter=datacenter, datastore=datastore, timeout=60)


@pytest.fixture
def src(tmp_path):
    f = tmp_path / 'x.iso'
    f.write_bytes(b'ISO' * 1000)
    return f


def test_first_upload_creates_folder_streams_body_and_writes_sidecar(src):
    host = FakeHost()
    result = upload(client(host), str(src), 'iso/esxi/x.iso')
    assert result.changed and result.size == 3000
    assert result.sha256 == hashlib.sha256(src.read_bytes()).hexdigest()
    assert host.files['iso/esxi/x.iso'] == src.read_bytes()
    assert parse_sidecar(host.files['iso/esxi/x.iso.sha256']) == result.sha256
    assert ('SOAP', 'MakeDirectory', None, None) in host.log
    put_file = [e for e in host.calls('PUT') if e[1] == 'iso/esxi/x.iso'][0]
    assert put_file[3] is not None, 'the file must be passed as an iterable, not read into bytes'
    assert result.url == 'https://esx.example:443/folder/iso/esxi/x.iso?dcPath=ha-datacenter&dsName=ds1'
    assert 'pw' not in result.url


def test_a_file_into_an_existing_folder_needs_no_soap_session(src, tmp_path):
    host = FakeHost()
    upload(client(host), str(src), 'iso/esxi/x.iso')
    other = tmp_path / 'y.iso'
    other.write_bytes(b'other')
    host.log.clear()
    upload(client(host), str(other), 'iso/esxi/y.iso')
    assert host.files['iso/esxi/y.iso'] == b'other'
    assert ('HEAD', 'iso/esxi/', None, None) in host.log
    assert not host.calls('SOAP'), 'the folder is there: no login, no MakeDirectory'
    host.log.clear()
    upload(client(host), str(other), 'iso/new/y.iso')  # a folder that is not there is still made
    assert ('SOAP', 'MakeDirectory', None, None) in host.log and host.files['iso/new/y.iso'] == b'other'


def test_second_run_sends_nothing(src):
    host = FakeHost()
    upload(client(host), str(src), 'x.iso')
    host.log.clear()
    result = upload(client(host), str(src), 'x.iso')
    assert not result.changed
    assert host.calls('PUT') == [] and host.calls('SOAP') == []


def test_upload_at_datastore_root_needs_no_folder(src):
    host = FakeHost()
    upload(client(host), str(src), 'x.iso')
    assert host.calls('SOAP') == []


def test_check_mode_predicts_and_sends_nothing(src):
    host = FakeHost()
    result = upload(client(host), str(src), 'iso/x.iso', check_mode=True)
    assert result.changed and result.sha256 == hashlib.sha256(src.read_bytes()).hexdigest()
    assert host.calls('PUT') == [] and host.files == {}
    upload(client(host), str(src), 'iso/x.iso')
    assert not upload(client(host), str(src), 'iso/x.iso', check_mode=True).changed


def test_changed_file_reuploads_and_invalidates_old_sidecar_first(src):
    host = FakeHost()
    upload(client(host), str(src), 'x.iso')
    src.write_bytes(b'OSI' * 1000)  # same size, other bytes
    host.log.clear()
    result = upload(client(host), str(src), 'x.iso')
    assert result.changed and result.reason == 'the sidecar checksum differs from the local file'
    assert [(e[1], e[2] if e[1].endswith('.sha256') else None) for e in host.calls('PUT')] == [
        ('x.iso.sha256', IN_PROGRESS),
        ('x.iso', None),
        ('x.iso.sha256', format_sidecar(result.sha256, 'x.iso')),
    ]
    assert host.files['x.iso'] == src.read_bytes()


def test_missing_sidecar_means_upload(src):
    host = FakeHost()
    host.files['x.iso'] = src.read_bytes()
    assert upload(client(host), str(src), 'x.iso').reason.startswith('there is no readable')


def test_force_uploads_matching_file(src):
    host = FakeHost()
    upload(client(host), str(src), 'x.iso')
    assert upload(client(host), str(src), 'x.iso', force=True).changed


def test_bad_password_is_an_authentication_error(src):
    with pytest.raises(AuthenticationError, match='401'):
        upload(client(FakeHost(), password='wrong'), str(src), 'x.iso')


def test_unknown_datastore_and_datacenter_are_named(src):
    with pytest.raises(NotFoundError, match="Datastore 'nope' not found in datacenter 'ha-datacenter'"):
        upload(client(FakeHost(), datastore='nope'), str(src), 'x.iso')
    with pytest.raises(NotFoundError, match="Datacenter 'DC9' not found"):
        upload(client(FakeHost(), datastore='nope', datacenter='DC9'), str(src), 'x.iso')


def test_missing_src_fails_before_any_request(tmp_path):
    host = FakeHost()
    with pytest.raises(LocalFileError, match='does not exist'):
        upload(client(host), str(tmp_path / 'nope.iso'), 'x.iso')
    assert host.log == []


@pytest.mark.parametrize('status', [405, 501])
def test_size_from_ranged_get_when_head_is_refused(src, status):
    host = FakeHost(head_status=status)
    host.files['x.iso'] = b'12345'
    assert client(host).remote_size('x.iso') == 5
    assert host.calls('GET')[-1][1] == 'x.iso'


def test_network_failure_becomes_remote_error(src):
    def broken(method, url, headers, body):
        raise urllib.error.URLError(socket.timeout('timed out'))

    with pytest.raises(RemoteError, match='timed out after 60 seconds'):
        upload(client(broken), str(src), 'x.iso')


def test_connection_closed_while_sending_gives_likely_causes():
    msg = describe_network_error(urllib.error.URLError(BrokenPipeError(32, 'Broken pipe')), 'https://h/folder/x')
    assert 'closed the connection' in msg and 'datastore full' in msg


def test_forbidden_names_the_privilege(src):
    def forbidden(method, url, headers, body):
        return Response(403)

    with pytest.raises(AuthenticationError, match='Datastore.FileManagement'):
        upload(client(forbidden), str(src), 'x.iso')


def test_fault_type_without_xsi_type():
    data = (
        ENV
        % (
            '<soapenv:Fault><faultcode>ServerFaultCode</faultcode><faultstring>exists</faultstring>'
            '<detail><FileAlreadyExistsFault xmlns="urn:vim25"/></detail></soapenv:Fault>'
        )
    ).encode()
    with pytest.raises(SoapFault) as info:
        parse_response(data, 'MakeDirectory')
    assert info.value.fault_type == 'FileAlreadyExists'


def test_hashing_reader_with_a_known_digest_sends_the_file_without_hashing(tmp_path):
    f = tmp_path / 'iso'
    f.write_bytes(b'a' * 3000)
    reader = HashingReader(str(f), 3000, chunk_size=1024, known_sha256='0' * 64)
    assert b''.join(reader) == b'a' * 3000
    assert reader.digest is None and reader.hexdigest() == '0' * 64


class RedirectingHost(FakeHost):
    """Sends /folder/... to another origin, as a hostile or misconfigured proxy would."""

    def __call__(self, method, url, headers, body):
        self.log.append((method, url, headers.get('Authorization'), None))
        return Response(302, b'', {'Location': 'http://elsewhere.example/steal\x1b[31m'})


class SlashRedirectHost(FakeHost):
    """Sends /folder to /folder/ on the same origin (the vSphere simulator does), then answers normally."""

    def __call__(self, method, url, headers, body):
        parts = urlsplit(url)
        if parts.path == '/folder':
            self.log.append(('REDIRECT', url, None, None))
            return Response(301, b'', {'Location': '/folder/?' + parts.query})
        if parts.path == '/folder/':
            url = url.replace('/folder/?', '/folder?', 1)
        return super().__call__(method, url, headers, body)


def test_a_redirect_to_another_origin_is_reported_and_never_followed():
    host = RedirectingHost()
    with pytest.raises(RemoteError, match=r'was redirected \(HTTP 302 to http://elsewhere.example/steal\\x1b\[31m\); a redirect to another host'):
        client(host).remote_size('iso/x.iso')
    assert len(host.log) == 1  # one request, to the origin; the credentials went nowhere else


def test_a_redirect_on_the_same_origin_is_followed():
    host = SlashRedirectHost()
    client(host).check_datastore()
    assert [entry[0] for entry in host.log][:2] == ['REDIRECT', 'GET']


def test_server_text_in_messages_is_escaped_and_cut():
    from ansible_collections.esxi.customizer.plugins.module_utils._errors import printable

    assert printable('bad\x00\x1b[2Jthing\n', 100) == 'bad\\x00\\x1b[2Jthing'
    assert printable('x' * 500, 300) == 'x' * 300 + '...'


class Recorder:
    def __init__(self):
        self.events = []

    def start(self, total):
        self.events.append(('start', total))

    def update(self, done):
        self.events.append(('update', done))


def test_progress_hears_of_each_block_of_the_file_only(tmp_path):
    f = tmp_path / 'x.iso'
    f.write_bytes(b'z' * (2 * 1024 * 1024 + 5))
    progress = Recorder()
    upload(client(FakeHost()), str(f), 'iso/x.iso', progress=progress)
    assert progress.events == [('start', 2 * 1024 * 1024 + 5), ('update', 1024 * 1024), ('update', 2 * 1024 * 1024), ('update', 2 * 1024 * 1024 + 5)]


def test_no_progress_when_nothing_is_sent(src):
    host = FakeHost()
    upload(client(host), str(src), 'x.iso')
    progress = Recorder()
    upload(client(host), str(src), 'x.iso', progress=progress)
    assert progress.events == []
