# Copyright: esxi.customizer contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Talking to a vSphere endpoint (ESXi hostd or vCenter) without pyVmomi.

Holds the transport contract shared with :mod:`.datastore`, the wording of network errors, and a
minimal SOAP client with just the calls an upload needs (log in, find a datacenter, make a
directory, log out).

The transport is injected so this stays plain Python: ``transport(method, url, headers, body=body)``
sends one HTTP request and returns a response object with ``status`` (int), ``headers`` (with a
case-insensitive ``get``), ``read([n])`` and ``close()``. It returns HTTP error statuses like any
other response and raises only for network failures (which :func:`call` turns into
:class:`RemoteError` messages). ``body`` is ``None``, ``bytes`` or an iterable of ``bytes``.
"""

from __future__ import annotations

import re
import socket
import ssl
from urllib.error import URLError
from xml.sax.saxutils import escape

from ansible_collections.esxi.customizer.plugins.module_utils._errors import EsxiCustomizerError, FormatError
from ansible_collections.esxi.customizer.plugins.module_utils._io.xml import parse_xml

SOAP_ENV = 'http://schemas.xmlsoap.org/soap/envelope/'
XSI = 'http://www.w3.org/2001/XMLSchema-instance'
VIM = 'urn:vim25'
# Any API version since 5.0 has every call used here; the one the server reports replaces it.
BOOTSTRAP_API_VERSION = '6.5'
SESSION_COOKIE = 'vmware_soap_session'
# SOAP answers here are a few KiB; refuse to buffer anything absurd.
MAX_SOAP_RESPONSE = 4 * 1024 * 1024

TLS_HINT = (
    'Set validate_certs to false to skip certificate verification (only on a trusted network), '
    'or set ca_path to a PEM file holding the CA (or the self-signed certificate) of the host.'
)


class RemoteError(EsxiCustomizerError):
    """The vSphere endpoint could not be reached or refused a request."""


class AuthenticationError(RemoteError):
    """The endpoint rejected the user name or password."""


class NotFoundError(RemoteError):
    """A datacenter, datastore or file does not exist on the endpoint."""


def _causes(exc):
    """Yield exc and everything it wraps (URLError.reason, __cause__, __context__)."""
    seen = set()
    todo = [exc]
    while todo:
        e = todo.pop(0)
        if e is None or id(e) in seen:
            continue
        seen.add(id(e))
        yield e
        reason = getattr(e, 'reason', None)
        if isinstance(reason, BaseException):
            todo.append(reason)
        todo.extend([e.__cause__, e.__context__])


def describe_network_error(exc, url, timeout=None):
    """Return an actionable message for a failure to talk to ``url``."""
    causes = list(_causes(exc))
    for e in causes:
        if isinstance(e, ssl.SSLCertVerificationError):
            return 'TLS certificate verification failed for %s: %s. %s' % (url, e.verify_message or e, TLS_HINT)
    for e in causes:
        if isinstance(e, (socket.timeout, TimeoutError)):
            limit = ' after %s seconds' % timeout if timeout is not None else ''
            return 'No answer from %s: timed out%s. Raise idle_timeout (connect_timeout if it was while connecting) if the host is just slow.' % (
                url,
                limit,
            )
    for e in causes:
        if isinstance(e, ConnectionRefusedError):
            return 'Cannot connect to %s: connection refused. Check hostname and port.' % url
        if isinstance(e, socket.gaierror):
            return 'Cannot resolve the host name in %s: %s.' % (url, e.strerror or e)
    for e in causes:
        if isinstance(e, ssl.SSLError):
            return 'TLS handshake with %s failed: %s. %s' % (url, e, TLS_HINT)
    for e in causes:
        if isinstance(e, (BrokenPipeError, ConnectionResetError)):
            return (
                '%s closed the connection while the request was sent (%s). The host may have refused the file: '
                'datastore full, file in use (an ISO connected to a VM), or missing permission.' % (url, e)
            )
    for e in causes:
        if isinstance(e, (ConnectionError, OSError)) and not isinstance(e, URLError):
            return 'Connection to %s failed: %s' % (url, e)
    return 'Request to %s failed: %s' % (url, exc)


def call(transport, method, url, *, headers=None, body=None, timeout=None):
    """Send one request through ``transport``; network failures become :class:`RemoteError`."""
    try:
        return transport(method, url, dict(headers or {}), body=body)
    except EsxiCustomizerError:
        raise
    except Exception as exc:  # the transport may raise anything a socket, TLS or HTTP library raises
        raise RemoteError(describe_network_error(exc, url, timeout)) from exc


def read_limited(response, limit):
    """Read at most ``limit`` bytes of a response body and close it."""
    try:
        return response.read(limit)
    finally:
        response.close()


def _envelope(method, this_type, this_value, *, params=''):
    return (
        '<?xml version="1.0" encoding="UTF-8"?>'
        '<soapenv:Envelope xmlns:soapenv="%s" xmlns:xsi="%s"><soapenv:Body>'
        '<%s xmlns="%s"><_this type="%s">%s</_this>%s</%s>'
        '</soapenv:Body></soapenv:Envelope>' % (SOAP_ENV, XSI, method, VIM, this_type, escape(this_value), params, method)
    ).encode('utf-8')


def _element(name, text):
    return '<%s>%s</%s>' % (name, escape(text), name)


def _moref(name, ref):
    return '<%s type="%s">%s</%s>' % (name, escape(ref[0]), escape(ref[1]), name)


def _local(tag):
    return tag.rsplit('}', 1)[-1]


class SoapFault(RemoteError):
    """A vSphere method answered with a fault; ``fault_type`` is e.g. ``InvalidLogin``."""

    def __init__(self, message, fault_type=None):
        self.fault_type = fault_type
        super().__init__(message)


def parse_response(data, method):
    """Return the ``<methodResponse>`` element of a SOAP answer, or raise its fault."""
    try:
        root = parse_xml(data, what='the answer')
    except FormatError as exc:  # malformed, or with a DTD, which no vSphere answer has
        raise RemoteError('%s: the answer is not SOAP XML (%s): %r' % (method, exc, data[:200])) from None
    body = root.find('{%s}Body' % SOAP_ENV)
    if body is None or len(body) == 0:
        raise RemoteError('%s: the answer has no SOAP body' % method)
    first = body[0]
    if _local(first.tag) == 'Fault':
        text = first.findtext('faultstring') or 'unknown fault'
        fault_type = None
        detail = first.find('detail')
        if detail is not None and len(detail):
            # <InvalidLoginFault xsi:type="InvalidLogin">: the xsi:type is the fault's class
            declared = detail[0].get('{%s}type' % XSI)
            fault_type = declared.split(':')[-1] if declared else re.sub('Fault$', '', _local(detail[0].tag))
        raise SoapFault('%s failed: %s%s' % (method, text, ' (%s)' % fault_type if fault_type else ''), fault_type)
    return first


def _moref_of(elem):
    if elem is None or not (elem.text or '').strip():
        return None
    return (elem.get('type'), elem.text.strip())


class SoapSession:
    """One logged-in session on ``base_url`` (``https://host:port``)."""

    def __init__(self, transport, base_url, timeout=None):
        self.transport = transport
        self.base_url = base_url
        self.url = base_url + '/sdk'
        self.timeout = timeout
        self.api_version = BOOTSTRAP_API_VERSION
        self.cookie = None
        self.content = {}
        self.api_type = None

    def invoke(self, method, this, params=''):
        headers = {'Content-Type': 'text/xml; charset="utf-8"', 'SOAPAction': '"urn:vim25/%s"' % self.api_version}
        if self.cookie:
            headers['Cookie'] = self.cookie
        response = call(self.transport, 'POST', self.url, headers=headers, body=_envelope(method, this[0], this[1], params=params), timeout=self.timeout)
        status = response.status
        set_cookie = response.headers.get('Set-Cookie')
        data = read_limited(response, MAX_SOAP_RESPONSE)
        if status == 401:
            raise AuthenticationError('%s: %s answered HTTP 401' % (method, self.url))
        if status not in (200, 500):  # faults come with 500
            raise RemoteError('%s: %s answered HTTP %s, which is not a vSphere SOAP endpoint answer' % (method, self.url, status))
        if set_cookie and SESSION_COOKIE in set_cookie:
            self.cookie = set_cookie.split(';', 1)[0].strip()
        return parse_response(data, method)

    def connect(self):
        """Fetch the ServiceContent (no login needed) and record the managers and API version."""
        res = self.invoke('RetrieveServiceContent', ('ServiceInstance', 'ServiceInstance'))
        content = res.find('{%s}returnval' % VIM)
        if content is None:
            raise RemoteError('RetrieveServiceContent: %s returned no service content' % self.url)
        for child in content:
            ref = _moref_of(child) if child.get('type') else None
            if ref:
                self.content[_local(child.tag)] = ref
        self.api_type = content.findtext('{%s}about/{%s}apiType' % (VIM, VIM))
        self.api_version = content.findtext('{%s}about/{%s}apiVersion' % (VIM, VIM)) or self.api_version
        for needed in ('sessionManager', 'searchIndex', 'fileManager'):
            if needed not in self.content:
                raise RemoteError('%s does not offer a %s; is it an ESXi host or vCenter?' % (self.url, needed))

    def login(self, username, password):
        if not self.content:
            self.connect()
        try:
            self.invoke('Login', self.content['sessionManager'], _element('userName', username) + _element('password', password))
        except SoapFault as fault:
            if fault.fault_type == 'InvalidLogin':
                raise AuthenticationError('Login to %s as %r failed: the user name or password is wrong' % (self.base_url, username)) from fault
            raise

    def logout(self):
        if self.cookie:
            try:
                self.invoke('Logout', self.content['sessionManager'])
            except RemoteError:
                pass  # the session expires on its own; nothing a user could act on
            self.cookie = None

    def find_datacenter(self, inventory_path):
        """Return the datacenter's managed object reference, or None when there is none at that path."""
        res = self.invoke('FindByInventoryPath', self.content['searchIndex'], _element('inventoryPath', inventory_path))
        ref = _moref_of(res.find('{%s}returnval' % VIM))
        if ref is None or ref[0] != 'Datacenter':
            return None
        return ref

    def make_directory(self, datastore_path, datacenter_ref):
        """Create ``[datastore] dir/sub`` with its parents; an existing directory is fine."""
        params = _element('name', datastore_path) + _moref('datacenter', datacenter_ref) + _element('createParentDirectories', 'true')
        try:
            self.invoke('MakeDirectory', self.content['fileManager'], params)
        except SoapFault as fault:
            if fault.fault_type == 'FileAlreadyExists':
                return False
            if fault.fault_type in ('InvalidDatastore', 'InvalidDatastorePath', 'FileNotFound'):
                raise NotFoundError('Cannot create folder %s: %s' % (datastore_path, fault)) from fault
            raise
        return True
