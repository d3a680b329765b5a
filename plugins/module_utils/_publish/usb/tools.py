# Copyright: esxi.customizer contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The external tools a disk image is built with (mkfs.vfat, mmd, mcopy from mtools, syslinux), found and run."""

from __future__ import annotations

import hashlib
import os
import shutil
import signal
import subprocess
import tempfile

from ansible_collections.esxi.customizer.plugins.module_utils._errors import DiskImageError
from ansible_collections.esxi.customizer.plugins.module_utils._publish.usb.mbr import find_mbr
from ansible_collections.esxi.customizer.plugins.module_utils._publish.usb.syslinux import installer_version

SBIN_DIRS = ('/usr/sbin', '/sbin')
_PR_SET_PDEATHSIG = 1


def _die_with_parent() -> None:
    """In the child before exec: the kernel kills it when the module dies, even by kill -9 (Linux prctl)."""
    try:
        import ctypes

        ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)
    except (ImportError, OSError, AttributeError):
        pass  # not Linux: the explicit kill on errors still applies


class CommandRunner:
    """Runs external tools; ``stdin`` may be an iterable of byte chunks streamed to the process.

    Not ``AnsibleModule.run_command``: that takes standard input as one bytes object, and the point here is
    to stream multi-hundred-MB payloads. Tests inject a subclass to record or fail commands.
    """

    def run(self, argv, stdin=None, env=None, *, cwd=None) -> tuple[int, str, str]:
        with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
            try:
                # not AnsibleModule.run_command: module_utils import nothing from Ansible, and stdin is streamed
                proc = subprocess.Popen(  # pylint: disable=consider-using-with,ansible-bad-function
                    argv,
                    stdin=subprocess.PIPE if stdin is not None else subprocess.DEVNULL,
                    stdout=out,
                    stderr=err,
                    env=env,
                    cwd=cwd,
                    preexec_fn=_die_with_parent,  # pylint: disable=subprocess-popen-preexec-fn
                )
            except OSError as exc:
                return 127, '', '%s: %s' % (argv[0], exc.strerror)
            broken = None
            try:
                if stdin is not None:
                    try:
                        for chunk in stdin:
                            proc.stdin.write(chunk)
                    except BrokenPipeError as exc:  # the tool died early; its stderr says why
                        broken = exc
                    finally:
                        try:
                            proc.stdin.close()
                        except BrokenPipeError:
                            pass
                rc = proc.wait()
            except BaseException:
                # the source failed (truncated ISO...) or we were told to stop: the tool must not outlive us
                proc.kill()
                proc.wait()
                raise
            out.seek(0)
            err.seek(0)
            stderr = err.read().decode('utf-8', 'replace')
            if broken is not None and rc == 0:
                rc, stderr = 1, stderr or 'broken pipe'
            return rc, out.read().decode('utf-8', 'replace'), stderr


def find_tool(name: str, explicit: str | None = None) -> str:
    """Absolute path of a tool (also looks in /usr/sbin and /sbin, which are not on a user's PATH)."""
    if explicit:
        if os.sep in explicit:
            if os.path.isfile(explicit) and os.access(explicit, os.X_OK):
                return explicit
            raise DiskImageError('is not an executable file', path=explicit)
        name = explicit
    found = shutil.which(name) or shutil.which(name, path=os.pathsep.join(SBIN_DIRS))
    if not found:
        package = {'mkfs.vfat': 'dosfstools', 'mcopy': 'mtools', 'mmd': 'mtools', 'syslinux': 'syslinux'}.get(name, name)
        raise DiskImageError('the command %s is needed to build a disk image and was not found (install the %s package)' % (name, package))
    return found


class Tools:
    """Paths and versions of the external tools, located once."""

    def __init__(self, runner: CommandRunner, bios_boot: bool, syslinux: str | None = None, *, mbr: str | None = None):
        self.runner = runner
        self.mkfs = find_tool('mkfs.vfat')
        self.mcopy = find_tool('mcopy')
        self.mmd = find_tool('mmd')
        self.syslinux = self.syslinux_version = self.mbr = self.mbr_code = None
        if bios_boot:
            self.syslinux = find_tool('syslinux', syslinux)
            self.syslinux_version = installer_version(runner, self.syslinux)
            self.mbr = find_mbr(mbr)
            with open(self.mbr, 'rb') as stream:
                self.mbr_code = stream.read(441)
            if len(self.mbr_code) > 440:
                raise DiskImageError('is larger than the 440 bytes of MBR boot code', path=self.mbr)

    @property
    def mbr_sha256(self):
        return hashlib.sha256(self.mbr_code).hexdigest() if self.mbr_code is not None else None


def run_env(epoch: int) -> dict:
    """The environment every tool runs in: reproducible dates, no user mtools configuration."""
    env = dict(os.environ)
    env.update({'MTOOLS_SKIP_CHECK': '1', 'MTOOLS_NO_VFAT': '0', 'SOURCE_DATE_EPOCH': str(epoch), 'TZ': 'UTC', 'LC_ALL': 'C'})
    env.pop('MTOOLSRC', None)
    return env


def check_result(result, what: str, dest: str) -> None:
    rc, out, err = result
    if rc != 0:
        message = (err or out).strip().splitlines()
        raise DiskImageError(
            '%s failed (rc %d): %s; the earlier image was left unchanged' % (what, rc, ' '.join(message[-3:])[:600] or 'no message'), path=dest
        )
