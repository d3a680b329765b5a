# Copyright: esxi.customizer contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
from __future__ import annotations


import re

import pytest

from ansible_collections.esxi.customizer.plugins.module_utils._formats.bootcfg import BootCfg, Module, check_option, parse_list
from ansible_collections.esxi.customizer.plugins.module_utils._errors import FormatError
from ansible_collections.esxi.customizer.tests.fixturegen.shared import shared_fixtures

try:
    from hypothesis import given, strategies as st
except ImportError:  # ansible-test units installs only tests/unit/requirements.txt
    given = None


FIXTURES = shared_fixtures()
SAMPLES = sorted((FIXTURES / 'bootcfg-isolinux-samples').glob('*.[bB][oO][oO][tT].[cC][fF][gG]')) if FIXTURES else []
needs_fixtures = pytest.mark.skipif(FIXTURES is None, reason='shared fixtures not found (set ESXI_SHARED_FIXTURES)')

STOCK_70 = (
    b'bootstate=0\ntitle=Loading ESXi installer\ntimeout=5\nprefix=\nkernel=/b.b00\nkernelopt=cdromBoot runweasel\n'
    b'modules=/jumpstrt.gz --- /k.b00 --- /s.v00 --- /tools.t00 --- /gc.v00 --- /imgdb.tgz --- /basemisc.tgz --- '
    b'/resvibs.tgz --- /imgpayld.tgz\nbuild=7.0.2-0.0.17630552\nupdated=0\n'
)


def load(name: str) -> BootCfg:
    path = FIXTURES / 'bootcfg-isolinux-samples' / name
    return BootCfg.parse(path.read_bytes(), str(path))


@needs_fixtures
def test_all_real_samples_are_found():
    assert len(SAMPLES) == 8, SAMPLES


@needs_fixtures
@pytest.mark.parametrize('path', SAMPLES, ids=lambda p: p.name)
def test_real_samples_round_trip_byte_for_byte(path):
    data = path.read_bytes()
    cfg = BootCfg.parse(data, str(path))
    assert cfg.serialize() == data
    assert cfg.kernel
    assert cfg.modules
    assert cfg.problems() == []


@needs_fixtures
def test_stock_702_values():
    cfg = load('esxi-7.0.2-hpe-iso-STOCK.boot.cfg')
    assert cfg.kernel == '/b.b00'
    assert cfg.kernelopt == 'cdromBoot runweasel'
    assert cfg.title == 'Loading ESXi installer'
    assert cfg.timeout == 5
    assert cfg.prefix == ''
    assert cfg.build == '7.0.2-0.0.17630552'
    assert cfg.get('BOOTSTATE') == '0'
    assert cfg.modules[0] == Module('/jumpstrt.gz')
    assert cfg.module_names[-5:] == ['gc.v00', 'imgdb.tgz', 'basemisc.tgz', 'resvibs.tgz', 'imgpayld.tgz']
    assert len(cfg.modules) == 116  # 115 separators in the file
    assert cfg.kickstart is None


@needs_fixtures
def test_tboot_era_sample_without_final_newline():
    cfg = load('esxi-6.x-hpe-tboot-ks.boot.cfg')
    assert not cfg.serialize().endswith(b'\n')
    assert cfg.kernel == '/tboot.b00'
    assert cfg.modules[0].path == '/b.b00'
    assert cfg.build == ''
    assert cfg.kickstart == 'cdrom:/KS_CUST.CFG'
    cfg.set('updated', '1')
    assert cfg.serialize().endswith(b'\nupdated=1')
    cfg.set('crypto', '/crypto64.efi')
    assert cfg.serialize().endswith(b'\nupdated=1\ncrypto=/crypto64.efi')


@needs_fixtures
def test_comment_and_blank_lines_are_not_keys():
    cfg = load('esxi-7.0.2-hpe-iso-modified.boot.cfg')
    assert cfg.kernelopt == 'ks=file://etc/vmware/weasel/ks.cfg'
    assert cfg.kickstart == 'file://etc/vmware/weasel/ks.cfg'
    cfg = load('esxi-8.0.3-uefi-http-prefix.boot.cfg')
    assert cfg.keys()[0] == 'bootstate'
    cfg = load('esxi-7.0.0-pxe-tftp-prefix.BOOT.CFG')
    assert cfg.kernel == 'B.B00'
    assert cfg.prefix == 'ESXi-7.0'
    assert cfg.styled_path('new.v00') == 'new.v00'


def test_loader_grammar_details():
    data = (
        b'  # comment\r\n\r\nMODULES = /a.b00 opt1  opt2 ---/b.v00---   --- /c.v00 \r\nKernel=/k\r\n'
        b'TimeOut=3\r\nweird key without equals\r\nnewkey = x = y\r\ntitle=first\r\ntitle=second\r\nprefix=\r\n'
    )
    cfg = BootCfg.parse(data)
    assert cfg.serialize() == data
    assert cfg.modules == [Module('/a.b00', 'opt1 opt2'), Module('/b.v00'), Module('/c.v00')]
    assert cfg.kernel == '/k'
    assert cfg.timeout == 3
    assert cfg.get('newkey') == 'x = y'
    assert cfg.title == 'second'
    assert cfg.prefix == ''
    assert cfg.newline == b'\r\n'
    cfg.set('timeout', 0)
    # only the edited line changes; key spelling and CRLF style are kept
    assert cfg.serialize() == data.replace(b'TimeOut=3', b'TimeOut=0')
    cfg.set('title', 'third')
    assert cfg.serialize().count(b'title=first\r\ntitle=third\r\n') == 1
    cfg.remove('title')
    assert cfg.title is None
    cfg.set('kernelopt', 'runweasel')
    # new key lands at its template position: after the last of bootstate..kernel (here prefix=)
    assert cfg.serialize().endswith(b'prefix=\r\nkernelopt=runweasel\r\n')


def test_set_places_missing_keys_in_template_order():
    cfg = BootCfg.parse(b'kernel=/b.b00\nmodules=/a.v00\n')
    cfg.set('title', 'T')
    cfg.set('build', '8.0.0-1.0.1')
    cfg.set('kernelopt', 'runweasel')
    cfg.set('noquirks', '1')
    assert cfg.serialize() == b'title=T\nkernel=/b.b00\nkernelopt=runweasel\nmodules=/a.v00\nbuild=8.0.0-1.0.1\nnoquirks=1\n'
    assert cfg.set('title', 'T') is False
    with pytest.raises(ValueError):
        cfg.set('title', 'two\nlines')
    with pytest.raises(ValueError):
        cfg.set('bad key', 'x')


def test_insert_module_before_imgdb_in_both_styles():
    cfg = BootCfg.parse(STOCK_70)
    assert cfg.insert_module('net_r812.v00') is True
    names = cfg.module_names
    assert names[names.index('imgdb.tgz') - 1] == 'net_r812.v00'
    assert '/net_r812.v00 --- /imgdb.tgz' in cfg.get('modules')
    assert cfg.insert_module('/NET_R812.V00') is False  # same base name, case-insensitive
    # only the modules line changed
    before, after = STOCK_70.split(b'\n'), cfg.serialize().split(b'\n')
    assert [i for i, (a, b) in enumerate(zip(before, after)) if a != b] == [6]
    pxe = BootCfg.parse(b'prefix=http://x/y\nkernel=b.b00\nmodules=k.b00 --- IMGDB.TGZ --- imgpayld.tgz\n')
    pxe.insert_module('drv.v00')
    assert pxe.get('modules') == 'k.b00 --- drv.v00 --- IMGDB.TGZ --- imgpayld.tgz'


def test_insert_module_when_before_is_absent():
    cfg = BootCfg.parse(b'kernel=/b.b00\nmodules=/k.b00 --- /basemisc.tgz --- /imgpayld.tgz\n')
    cfg.insert_module('x.v00', before='/nothere.tgz')
    assert cfg.module_names == ['k.b00', 'x.v00', 'basemisc.tgz', 'imgpayld.tgz']
    cfg = BootCfg.parse(b'kernel=/b.b00\nmodules=/k.b00 --- /s.v00\n')
    cfg.insert_module('x.v00')
    assert cfg.module_names == ['k.b00', 's.v00', 'x.v00']
    cfg.insert_module('y.v00', before='/S.V00', options='opt=1')
    assert cfg.get('modules') == '/k.b00 --- /y.v00 opt=1 --- /s.v00 --- /x.v00'
    cfg.insert_module('z.v00', before=None)
    assert cfg.module_names[-1] == 'z.v00'
    no_modules = BootCfg.parse(b'kernel=/b.b00\n')
    no_modules.insert_module('a.v00')
    assert no_modules.serialize() == b'kernel=/b.b00\nmodules=/a.v00\n'


def test_remove_and_set_modules():
    cfg = BootCfg.parse(STOCK_70)
    assert cfg.remove_module('S.V00') is True
    assert cfg.remove_module('s.v00') is False
    assert not cfg.has_module('/s.v00')
    assert cfg.has_module('TOOLS.T00')
    cfg.set_modules(['/a.v00', Module('/b.b00', 'x y')])
    assert cfg.get('modules') == '/a.v00 --- /b.b00 x y'
    with pytest.raises(ValueError):
        cfg.set_modules(['/a --- /b'])
    with pytest.raises(ValueError):
        cfg.set_modules(['two words'])


def test_parse_list_matches_loader_on_odd_separators():
    assert parse_list('a---b ---c x --- --- ') == [Module('a'), Module('b'), Module('c', 'x')]
    assert parse_list('') == []
    assert parse_list(None) == []


def test_merge_kernelopt():
    cfg = BootCfg.parse(STOCK_70)
    assert cfg.merge_kernelopt(['ks=cdrom:/KS.CFG']) is True
    assert cfg.kernelopt == 'cdromBoot runweasel ks=cdrom:/KS.CFG'
    assert cfg.kickstart == 'cdrom:/KS.CFG'
    assert cfg.merge_kernelopt(['ks=cdrom:/KS.CFG', 'runweasel', 'RUNWEASEL']) is False
    cfg.merge_kernelopt(['ks=http://h/ks.cfg', 'allowLegacyCPU=true'])
    assert cfg.kernelopt == 'cdromBoot runweasel ks=http://h/ks.cfg allowLegacyCPU=true'
    cfg.merge_kernelopt(['-cdromboot', '-allowLegacyCPU'])
    assert cfg.kernelopt == 'runweasel ks=http://h/ks.cfg'
    cfg.set_kernelopt('ks=a ks=b x')
    cfg.merge_kernelopt(['ks=c'])
    assert cfg.kernelopt == 'ks=c x'
    with pytest.raises(ValueError):
        cfg.merge_kernelopt(['two tokens'])


def test_properties_set_values():
    cfg = BootCfg.parse(STOCK_70)
    cfg.title = 'Custom'
    cfg.timeout = 1
    cfg.prefix = 'esxi'
    cfg.kernel = '/b.b00'
    assert (cfg.title, cfg.timeout, cfg.prefix) == ('Custom', 1, 'esxi')
    assert BootCfg.parse(cfg.serialize()).title == 'Custom'


def test_problems_and_bad_input():
    assert BootCfg.parse(b'title=x\ntimeout=soon\n').problems() == ['no kernel= line', 'timeout=soon is not a number']
    with pytest.raises(FormatError, match='/x/boot.cfg: contains NUL bytes'):
        BootCfg.parse(b'kernel=/b\0', '/x/boot.cfg')
    with pytest.raises(FormatError, match='too large'):
        BootCfg.parse(b'#' * (2 * 1024 * 1024))
    with pytest.raises(TypeError):
        BootCfg.parse('kernel=/b.b00')
    assert BootCfg.parse(b'').serialize() == b''


def test_non_utf8_bytes_survive():
    data = b'title=caf\xe9\nkernel=/b.b00\n'
    cfg = BootCfg.parse(data)
    assert cfg.serialize() == data
    cfg.set('kernelopt', 'x')
    assert cfg.serialize().startswith(b'title=caf\xe9\n')


if given is not None:
    line_text = st.text(alphabet=st.sampled_from('abKEY=/ -#\t\r.x0_'), max_size=30)

    @given(st.lists(line_text, max_size=12), st.sampled_from(['\n', '\r\n']), st.booleans())
    def test_round_trip_property(lines, newline, final_newline):
        data = newline.join(lines) + (newline if final_newline and lines else '')
        data = data.encode()
        cfg = BootCfg.parse(data)
        assert cfg.serialize() == data

    @given(st.lists(st.from_regex(r'[a-z0-9_]{1,8}\.v0[0-9]', fullmatch=True), max_size=8, unique=True))
    def test_edit_then_reparse_property(names):
        cfg = BootCfg.parse(STOCK_70)
        fresh = [name for name in names if not cfg.has_module(name)]
        for name in fresh:
            cfg.insert_module(name)
        reparsed = BootCfg.parse(cfg.serialize())
        assert reparsed.module_names[-4:] == ['imgdb.tgz', 'basemisc.tgz', 'resvibs.tgz', 'imgpayld.tgz']
        assert reparsed.module_names[5 : 5 + len(fresh)] == fresh
        assert reparsed.kernelopt == 'cdromBoot runweasel'


@pytest.mark.parametrize(
    'key, release, expected',
    [
        ('errtimeout', (8, 0, 0), 'errtimeout= is ignored by the boot loader of ESXi 8.0: it was added in ESXi 8.0.2'),
        ('errtimeout', (8, 0, 2), None),
        ('skip', (7, 0, 3), 'skip= is ignored by the boot loader of ESXi 7.0.3: it was added in ESXi 8.0.2'),
        ('runtimewd', (7, 0, 3), 'runtimewd= is ignored by the boot loader of ESXi 7.0.3: it was added in ESXi 8.0'),
        ('tftpblksize', (8, 0, 3), None),
        ('acpitables', (6, 7, 0), 'acpitables= is ignored by the boot loader of ESXi 6.7: it was added in ESXi 8.0'),
        ('nativehttp', (8, 0, 3), None),
        ('nativehttp', (9, 0, 0, 0), 'nativehttp= is ignored by the boot loader of ESXi 9.0: ESXi 9.0 dropped it'),
        ('nativehttp', (9, 1, 1, 0), 'nativehttp= is ignored by the boot loader of ESXi 9.1.1: ESXi 9.0 dropped it'),
        ('nobootif', (5, 5, 0), None),
        ('ks', (8, 0, 3), 'ks= is not read by any ESXi boot loader (ignored)'),
        ('errtimeout', None, None),
    ],
)
def test_release_warnings(key, release, expected):
    cfg = BootCfg.parse(b'bootstate=0\ntitle=x\nkernel=/b.b00\nmodules=/a.v00\n%s=1\nbuild=1\nupdated=0\n' % key.upper().encode())
    assert cfg.release_warnings(release) == ([expected] if expected else [])


@pytest.mark.parametrize('sample', SAMPLES, ids=lambda p: p.name)
def test_real_files_have_no_release_warnings(sample):
    data = sample.read_bytes()
    version = re.search(rb'build=(\d+)\.(\d+)\.(\d+)', data)
    release = tuple(int(n) for n in version.groups()) if version else None
    assert BootCfg.parse(data, path=sample.name).release_warnings(release) == []


def test_check_option():
    assert check_option('ErrTimeout', 30) == ('errtimeout', '30')
    assert check_option('norts', True) == ('norts', '1')
    assert check_option('runtimewd', None) == ('runtimewd', None)
    assert check_option('crypto', ' /crypto64.efi ') == ('crypto', '/crypto64.efi')
    with pytest.raises(ValueError, match=r'errtimout is not read by any ESXi boot loader and would be ignored \(did you mean errtimeout\?\)'):
        check_option('errtimout', 1)
    with pytest.raises(ValueError, match='bootcfg_options: kernelopt cannot be set here: use kernelopt or kernelopt_add'):
        check_option('kernelopt', 'x')
    with pytest.raises(ValueError, match='modules cannot be set here'):
        check_option('MODULES', 'x')
    with pytest.raises(ValueError, match="skip must be a whole number, not 'soon'"):
        check_option('skip', 'soon')
    with pytest.raises(ValueError, match='spans lines'):
        check_option('crypto', 'a\nkernel=/evil')
    with pytest.raises(ValueError, match='is not a boot.cfg key'):
        check_option('a=b', 1)
