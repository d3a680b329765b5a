# Copyright: esxi.customizer contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Upload a file to a vSphere datastore through the ``/folder`` HTTP interface, idempotently.

``PUT https://<host>:<port>/folder/<path>?dcPath=<datacenter>&dsName=<datastore>`` with Basic
authentication, the body streamed from the file with a Content-Length. Idempotence comes from a
sidecar ``<path>.sha256`` (``sha256sum`` format) written after the file: when the remote size and
the sidecar match the local file, nothing is sent. Missing parent folders are created through the
vSphere API first (FileManager.MakeDirectory), because a PUT into a missing folder fails on some
hosts and on the simulator.

The HTTP transport is injected (see :mod:`.soap` for the contract; the modules use :mod:`.transport`, which owns
the timeouts), so tests can stand in for the host.
"""

from __future__ import annotations

import base64
import hashlib
import os
import posixpath
import re
import stat
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from urllib.parse import quote, urlencode, urljoin, urlsplit

from ansible_collections.esxi.customizer.plugins.module_utils._errors import EsxiCustomizerError, printable
from ansible_collections.esxi.customizer.plugins.module_utils._io.filehash import cached_sha256, file_sha256, remember_sha256
from ansible_collections.esxi.customizer.plugins.module_utils._vsphere.soap import (
    AuthenticationError,
    NotFoundError,
    RemoteError,
    SoapSession,
    call,
    read_limited,
)

CHUNK_SIZE = 1024 * 1024
SIDECAR_SUFFIX = '.sha256'
# A sidecar is one line; anything longer is not ours.
MAX_SIDECAR = 4096
# Written over an old sidecar before the file is replaced, so an interrupted upload never leaves
# a sidecar that vouches for the half-written file.
IN_PROGRESS = b'upload in progress\n'
_SHA256_RE = re.compile(r'^([0-9a-fA-F]{64})(?:\s|$)')


class LocalFileError(EsxiCustomizerError):
    """The local source file is missing, unreadable or changed while it was read."""


def base_url(hostname, port):
    """``https://host:port``, with IPv6 literals bracketed."""
    host = hostname.strip()
    if ':' in host and not host.startswith('['):
        host = '[%s]' % host
    return 'https://%s:%d' % (host, port)


def normalize_path(path):
    """Return a datastore-relative path without leading/trailing slashes; refuse ``..`` and empties."""
    if path is None or not path.strip():
        raise EsxiCustomizerError('path on the datastore is empty')
    if '\\' in path or '\x00' in path:
        raise EsxiCustomizerError('path %r on the datastore must use / as separator and contain no NUL' % path)
    if path.startswith('['):
        raise EsxiCustomizerError('path %r looks like a "[datastore] path"; give the datastore in datastore and only the path here' % path)
    parts = [p for p in path.strip('/').split('/') if p not in ('', '.')]
    if not parts:
        raise EsxiCustomizerError('path %r on the datastore names no file' % path)
    if '..' in parts:
        raise EsxiCustomizerError('path %r on the datastore must not contain ".."' % path)
    if path.endswith('/'):
        raise EsxiCustomizerError('path %r on the datastore names a folder; add the file name' % path)
    return '/'.join(parts)


def folder_url(base, datacenter, datastore, *, path):
    """URL of ``path`` on ``datastore`` in the ``/folder`` interface (``path`` None: the datastore root).

    vCenter's /folder handler decodes ``dcPath`` twice, so ``&`` in a datacenter name must arrive
    as ``%2526`` (what its own datastore browser sends; ansible-modules-extras#660). Values are
    percent-encoded with %20 for spaces, which every server decodes, unlike ``+``.
    """
    query = urlencode([('dcPath', datacenter.replace('&', '%26')), ('dsName', datastore)], quote_via=quote)
    if path is None:
        return '%s/folder?%s' % (base, query)
    return '%s/folder/%s?%s' % (base, quote(path, safe='/'), query)


def parse_sidecar(data):
    """Return the lower-case SHA-256 hex digest a sidecar holds, or None when it holds none."""
    if not data:
        return None
    try:
        text = data.decode('ascii') if isinstance(data, bytes) else data
    except UnicodeDecodeError:
        return None
    match = _SHA256_RE.match(text.strip())
    return match.group(1).lower() if match else None


def format_sidecar(digest, path):
    """``sha256sum`` format, so ``sha256sum -c`` works in the datastore folder."""
    return ('%s  %s\n' % (digest, posixpath.basename(path))).encode('utf-8')


@dataclass(frozen=True)
class LocalFile:
    path: str
    size: int


def local_file(path):
    """Check that ``path`` is a readable regular file and return its size."""
    try:
        st = os.stat(path)
    except FileNotFoundError:
        raise LocalFileError('source file does not exist', path) from None
    except OSError as exc:
        raise LocalFileError('cannot read source file: %s' % exc.strerror, path) from exc
    if not stat.S_ISREG(st.st_mode):
        raise LocalFileError('source is not a regular file', path)
    if not os.access(path, os.R_OK):
        raise LocalFileError('source file is not readable', path)
    return LocalFile(path, st.st_size)


class HashingReader:
    """Iterate over a file in chunks, hashing as it goes, and insist on exactly ``size`` bytes.

    Passed as the request body, so the file is never held in memory. Each chunk is hashed on a
    worker thread while the caller sends it (hashlib and socket writes both release the GIL), so
    the SHA-256 costs no extra wall time when a second core is free. With ``known_sha256`` (the
    digest cached when we wrote the file) nothing is hashed. ``on_block(sent)`` is called once a block is sent
    (when the transport asks for the next one), so it must cost next to nothing.
    """

    def __init__(self, path, size, chunk_size=CHUNK_SIZE, *, known_sha256=None, on_block=None):
        self.path = path
        self.size = size
        self.chunk_size = chunk_size
        self.known_sha256 = known_sha256
        self.digest = None if known_sha256 else hashlib.sha256()
        self.sent = 0
        self.on_block = on_block

    def __iter__(self):
        with open(self.path, 'rb') as f, ThreadPoolExecutor(max_workers=1) as hasher:
            pending = None
            while True:
                block = f.read(self.chunk_size)
                if not block:
                    break
                self.sent += len(block)
                if self.sent > self.size:
                    raise LocalFileError('source file grew while it was uploaded', self.path)
                if self.digest is not None:
                    if pending is not None:
                        pending.result()  # keep the updates in file order
                    pending = hasher.submit(self.digest.update, block)
                yield block
                if self.on_block is not None:
                    self.on_block(self.sent)
            if pending is not None:
                pending.result()
        if self.sent != self.size:
            raise LocalFileError('source file shrank while it was uploaded (%d of %d bytes)' % (self.sent, self.size), self.path)

    def hexdigest(self):
        return self.known_sha256 or self.digest.hexdigest()


@dataclass(frozen=True)
class RemoteState:
    size: int | None  # None: no such file
    sidecar_sha256: str | None  # None: no sidecar, or one we cannot read


def decide(local_size, remote, local_sha256=None, *, force=False):
    """Return ``(upload, reason)``.

    ``local_sha256`` is only needed when the size and the sidecar leave the decision open; pass
    None first and call again with the digest when this returns ``(None, ...)``.
    """
    if force:
        return True, 'force is set'
    if remote.size is None:
        return True, 'the file does not exist on the datastore'
    if remote.size != local_size:
        return True, 'the remote size %d differs from the local size %d' % (remote.size, local_size)
    if remote.sidecar_sha256 is None:
        return True, 'there is no readable %s sidecar next to the remote file' % SIDECAR_SUFFIX
    if local_sha256 is None:
        return None, 'size matches; the local checksum decides'
    if remote.sidecar_sha256 != local_sha256:
        return True, 'the sidecar checksum differs from the local file'
    return False, 'size and sidecar checksum match the local file'


def _content_length(response):
    value = response.headers.get('Content-Length')
    try:
        return int(value) if value is not None else None
    except ValueError:
        return None


def _range_total(response):
    """Total size from ``Content-Range: bytes 0-0/1234`` (or ``bytes */1234`` on 416)."""
    value = response.headers.get('Content-Range') or ''
    match = re.search(r'/(\d+)\s*$', value)
    return int(match.group(1)) if match else None


MAX_REDIRECTS = 5


def _origin(url: str) -> tuple:
    parts = urlsplit(url)
    return (parts.scheme.lower(), (parts.hostname or '').lower(), parts.port or {'https': 443, 'http': 80}.get(parts.scheme.lower()))


class DatastoreClient:
    """Files on one datastore of one datacenter of an ESXi host or vCenter."""

    def __init__(self, transport, hostname, port, *, username, password, datacenter, datastore, timeout=None):
        self.transport = transport
        self.base = base_url(hostname, port)
        self.username = username
        self.password = password
        self.datacenter = datacenter
        self.datastore = datastore
        self.timeout = timeout
        token = base64.b64encode(('%s:%s' % (username, password)).encode('utf-8')).decode('ascii')
        self._auth = {'Authorization': 'Basic ' + token}

    def url(self, path):
        return folder_url(self.base, self.datacenter, self.datastore, path=path)

    def _request(self, method, path, headers=None, *, body=None):
        merged = dict(self._auth)
        merged.update(headers or {})
        url = self.url(path)
        for _hop in range(MAX_REDIRECTS + 1):
            response = call(self.transport, method, url, headers=merged, body=body, timeout=self.timeout)
            if not 300 <= response.status < 400:
                break
            location = response.headers.get('Location') if getattr(response, 'headers', None) else None
            response.close()
            target = urljoin(url, location or '')
            # The same host may send /folder to /folder/; anywhere else would get the credentials: never followed.
            if not location or _origin(target) != _origin(self.base) or (body is not None and not isinstance(body, (bytes, bytearray))):
                raise RemoteError(
                    '%s %s was redirected (HTTP %s to %s); a redirect to another host, port or scheme (or of a streamed upload) is not '
                    'followed, so that the credentials never leave %s: set hostname to the host that serves the datastore'
                    % (method, url, response.status, printable(location or 'an unnamed location', 200), self.base)
                )
            url = target
        else:
            raise RemoteError('%s %s: more than %d redirects' % (method, self.url(path), MAX_REDIRECTS))
        if response.status == 401:
            response.close()
            raise AuthenticationError(
                '%s answered HTTP 401: the user name %r or its password is wrong, or the user may not access datastore files' % (self.base, self.username)
            )
        if response.status == 403:
            response.close()
            raise AuthenticationError(
                '%s %s answered HTTP 403: user %r lacks the Datastore.FileManagement privilege '
                '(Datastore > Low level file operations) on datastore %r' % (method, self.url(path), self.username, self.datastore)
            )
        return response

    def _unexpected(self, method, path, response):
        snippet = printable(read_limited(response, 300).decode('utf-8', 'replace'), 300)
        return RemoteError('%s %s answered HTTP %s%s' % (method, self.url(path), response.status, ': %s' % snippet if snippet else ''))

    def remote_size(self, path):
        """Size of the remote file, or None when it does not exist (HEAD; ranged GET if HEAD is refused)."""
        response = self._request('HEAD', path)
        if response.status in (405, 501):
            response.close()
            return self._ranged_size(path)
        if response.status == 404:
            response.close()
            self.check_datastore()
            return None
        if response.status != 200:
            raise self._unexpected('HEAD', path, response)
        response.close()
        size = _content_length(response)
        if size is None:
            return self._ranged_size(path)
        return size

    def _ranged_size(self, path):
        response = self._request('GET', path, {'Range': 'bytes=0-0'})
        status = response.status
        if status == 404:
            response.close()
            self.check_datastore()
            return None
        if status in (206, 416):
            response.close()
            total = _range_total(response)
        elif status == 200:
            response.close()  # the server ignored Range: do not read the body
            total = _content_length(response)
        else:
            raise self._unexpected('GET', path, response)
        if total is None:
            raise RemoteError('GET %s gave no file size (no Content-Range or Content-Length)' % self.url(path))
        return total

    def read_small(self, path, limit=MAX_SIDECAR):
        """Body of a small remote file, or None when it does not exist; None also when it is too big."""
        response = self._request('GET', path)
        if response.status == 404:
            response.close()
            return None
        if response.status != 200:
            raise self._unexpected('GET', path, response)
        data = read_limited(response, limit + 1)
        return None if len(data) > limit else data

    def check_datastore(self):
        """Raise NotFoundError when the datastore (or its datacenter) does not exist."""
        response = self._request('GET', None)
        status = response.status
        response.close()
        if status != 404:
            return
        hint = 'A standalone ESXi host calls its datacenter ha-datacenter; a datacenter inside a folder is written folder/name.'
        try:
            session = self.session()
            try:
                found = session.find_datacenter(self.datacenter) is not None
            finally:
                session.logout()
        except RemoteError:
            found = None  # the /folder answer alone still supports the message below
        if found is False:
            raise NotFoundError('Datacenter %r not found on %s. %s' % (self.datacenter, self.base, hint))
        raise NotFoundError(
            'Datastore %r not found in datacenter %r on %s (GET %s answered 404). %s' % (self.datastore, self.datacenter, self.base, self.url(None), hint)
        )

    def remote_state(self, path):
        size = self.remote_size(path)
        if size is None:
            return RemoteState(None, None)
        return RemoteState(size, parse_sidecar(self.read_small(path + SIDECAR_SUFFIX)))

    def folder_exists(self, folder):
        """Whether ``folder`` is a directory on the datastore: a HEAD of ``folder/`` answering 200 (the /folder
        interface lists a directory there). Any other answer is a no: the caller then makes it, as it always did."""
        response = self._request('HEAD', folder.rstrip('/') + '/')
        response.close()
        return response.status == 200

    def session(self):
        session = SoapSession(self.transport, self.base, self.timeout)
        session.login(self.username, self.password)
        return session

    def make_folder(self, folder):
        """Create ``folder`` (and its parents) on the datastore through FileManager.MakeDirectory."""
        session = self.session()
        try:
            dc_ref = session.find_datacenter(self.datacenter)
            if dc_ref is None:
                raise NotFoundError('Datacenter %r not found on %s' % (self.datacenter, self.base))
            return session.make_directory('[%s] %s' % (self.datastore, folder), dc_ref)
        finally:
            session.logout()

    def put(self, path, body, length):
        headers = {'Content-Type': 'application/octet-stream', 'Content-Length': str(length)}
        response = self._request('PUT', path, headers, body=body)
        if response.status == 404:
            response.close()
            self.check_datastore()
            raise NotFoundError('PUT %s answered 404' % self.url(path))
        if response.status not in (200, 201, 204):
            raise self._unexpected('PUT', path, response)
        response.close()


@dataclass
class UploadResult:
    changed: bool
    reason: str
    url: str
    size: int
    sha256: str | None
    before: RemoteState


def upload(client, src, path, *, force=False, check_mode=False, progress=None):
    """Make ``path`` on the datastore hold the bytes of local file ``src``; see the module docs.

    ``progress`` (a :class:`..._io.progress.ProgressFile`, or anything with ``start(total)`` and ``update(done)``)
    hears of the file's bytes as they are sent; the sidecar and the other small requests are not counted.
    """
    path = normalize_path(path)
    local = local_file(src)
    url = client.url(path)
    remote = client.remote_state(path)
    # An ISO written by iso_customize/disk_image carries its digest in an xattr: no need to read it again.
    local_sha = cached_sha256(src)
    needed, reason = decide(local.size, remote, local_sha, force=force)
    if needed is None:
        local_sha = file_sha256(src)
        needed, reason = decide(local.size, remote, local_sha, force=force)
    if not needed or check_mode:
        if local_sha is None:
            local_sha = file_sha256(src)
        return UploadResult(bool(needed), reason, url, local.size, local_sha, remote)

    folder = posixpath.dirname(path)
    # A folder that is there already needs no SOAP session (login, datacenter lookup, MakeDirectory, logout).
    if remote.size is None and folder and not client.folder_exists(folder):
        client.make_folder(folder)
    if remote.sidecar_sha256 is not None:
        client.put(path + SIDECAR_SUFFIX, IN_PROGRESS, len(IN_PROGRESS))
    known = cached_sha256(src)
    reader = HashingReader(src, local.size, known_sha256=known, on_block=progress.update if progress else None)
    if progress:
        progress.start(local.size)
    client.put(path, reader, local.size)
    if known is not None and cached_sha256(src) != known:  # size, mtime or inode moved under us
        raise LocalFileError('source file changed while it was uploaded; run again', src)
    if local_sha is not None and reader.hexdigest() != local_sha:
        raise LocalFileError('source file changed while it was uploaded; run again', src)
    local_sha = reader.hexdigest()
    remember_sha256(src, local_sha)
    landed = client.remote_size(path)
    if landed != local.size:
        raise RemoteError('%s holds %s bytes after the upload, expected %d; the datastore may be full' % (url, landed, local.size))
    sidecar = format_sidecar(local_sha, path)
    client.put(path + SIDECAR_SUFFIX, sidecar, len(sidecar))
    return UploadResult(True, reason, url, local.size, local_sha, remote)
