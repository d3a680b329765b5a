# Copyright: esxi.customizer contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""pxe_publish as Ansible runs it: the archive round trip, and publishing an archive where pycdlib is absent."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap

import pytest
from ansible_collections.esxi.customizer.tests.unit.plugins.modules.compat import run_module

from ansible_collections.esxi.customizer.plugins.modules import pxe_publish
from ansible_collections.esxi.customizer.tests.fixturegen import iso as fixiso

SECRET = 'rootpw --iscrypted $6$salt$MODULESECRET'
HOSTS = [{'mac': '00:50:56:aa:bb:01', 'hostname': 'esx01', 'kickstart': 'vmaccepteula\n%s\n' % SECRET}]


def run(capsys, **args):
    return run_module(capsys, pxe_publish.main, **args)


@pytest.fixture(scope='module')
def iso(tmp_path_factory):
    path = str(tmp_path_factory.mktemp('iso') / 'esxi70.iso')
    fixiso.build_esxi_iso(path, style='70')
    return path


def test_archive_round_trip_through_the_module(capsys, tmp_path, iso):
    archive, dest = str(tmp_path / 'e70.tar'), tmp_path / 'tftp'
    dest.mkdir()
    options = dict(name='e70', http_url='http://10.0.0.1/tftp/e70', hosts=HOSTS, _ansible_diff=True)
    code, built = run(capsys, src=iso, archive=archive, mode='0600', **options)
    assert code == 0 and built['changed'] and built['archive'] == archive and built['path'] == archive
    assert oct(os.stat(archive).st_mode & 0o777) == '0o600'
    code, again = run(capsys, src=iso, archive=archive, mode='0600', **options)
    assert code == 0 and not again['changed']
    code, applied = run(capsys, src=archive, dest=str(dest), _ansible_diff=True)
    assert code == 0 and applied['changed'] and applied['name'] == 'e70' and applied['path'] == str(dest / 'e70')
    assert SECRET in (dest / 'e70/01-00-50-56-aa-bb-01/ks.cfg').read_text()
    code, reapplied = run(capsys, src=archive, dest=str(dest))
    assert code == 0 and not reapplied['changed']
    for result in (built, again, applied, reapplied):
        assert 'MODULESECRET' not in json.dumps(result)
    code, absent = run(capsys, src=archive, dest=str(dest), state='absent')
    assert code == 0 and absent['changed'] and os.listdir(dest) == []


@pytest.mark.parametrize(
    'args, message',
    [
        ({'archive': '/tmp/x.tar', 'dest': '/tmp'}, 'mutually exclusive'),
        ({}, 'one of the following is required: dest, archive'),
    ],
)
def test_dest_and_archive_are_exactly_one(capsys, iso, args, message):
    code, result = run(capsys, src=iso, **args)
    assert code == 1 and message in result['msg']


def test_baked_options_are_refused_with_an_archive_src(capsys, tmp_path, iso):
    archive = str(tmp_path / 'e70.tar')
    assert run(capsys, src=iso, archive=archive, name='e70')[0] == 0
    code, result = run(capsys, src=archive, dest=str(tmp_path), bootloaders=['bios'], kernelopt_add=['noIOMMU'])
    expected = 'kernelopt_add, bootloaders cannot be given with a publication archive as src: the archive was built with them; build it again'
    assert code == 1 and result['msg'] == '%s: %s with the new values' % (archive, expected)


BLOCKED = textwrap.dedent(
    """
    import json, sys

    class NoIsoLibraries:
        '''A stock Python: pycdlib cannot be imported.'''

        def find_spec(self, name, path=None, target=None):
            if name.split('.')[0] == 'pycdlib':
                raise ImportError('No module named %r (blocked by the test)' % name)
            return None

    sys.meta_path.insert(0, NoIsoLibraries())
    for name in [n for n in sys.modules if n.split('.')[0] == 'pycdlib']:
        del sys.modules[name]

    from ansible_collections.esxi.customizer.tests.unit.plugins.modules.compat import patch_module_args, run_module
    from ansible_collections.esxi.customizer.plugins.modules import pxe_publish

    with patch_module_args(json.loads(sys.argv[1])):
        try:
            pxe_publish.main()
        except SystemExit:
            pass
    loaded = sorted(n for n in sys.modules if n.split('.')[0] == 'pycdlib')
    sys.stderr.write(json.dumps({'loaded': loaded}))
    """
)


def _without_iso_libraries(tmp_path, args):
    script = tmp_path / 'stock_python.py'
    script.write_text(BLOCKED)
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(p for p in sys.path if p))
    done = subprocess.run([sys.executable, str(script), json.dumps(args)], capture_output=True, text=True, env=env, timeout=120, check=False)
    return json.loads(done.stdout), json.loads(done.stderr.strip().splitlines()[-1])


def test_an_archive_is_published_without_pycdlib(tmp_path, iso, capsys):
    archive, dest = str(tmp_path / 'e70.tar'), tmp_path / 'tftp'
    dest.mkdir()
    assert run(capsys, src=iso, archive=archive, name='e70', hosts=HOSTS, http_url='http://10.0.0.1/tftp/e70')[0] == 0
    result, seen = _without_iso_libraries(tmp_path, {'src': archive, 'dest': str(dest)})
    assert not result.get('failed'), result
    assert result['changed'] and result['name'] == 'e70' and (dest / 'e70/boot.cfg').exists() and seen['loaded'] == []
    result, seen = _without_iso_libraries(tmp_path, {'src': archive, 'dest': str(dest)})
    assert not result.get('failed') and not result['changed'] and seen['loaded'] == []
    result, seen = _without_iso_libraries(tmp_path, {'src': archive, 'dest': str(dest), 'state': 'absent'})
    assert not result.get('failed') and result['changed'] and os.listdir(dest) == [] and seen['loaded'] == []
    # the blocker works: an ISO src needs pycdlib and says so
    result, _seen = _without_iso_libraries(tmp_path, {'src': iso, 'dest': str(dest)})
    assert result['failed'] and 'pycdlib' in result['msg']
