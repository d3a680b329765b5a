# Copyright: esxi.customizer contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Our own generator of ESXi-shaped test data (written from shared/reference/esxi-formats.md).

Independent of plugins/ and module_utils/ on purpose: it is the test data the code under test is
checked against. Stdlib only, plus the binaries xorriso, mkfs.vfat + mtools, grub-mkstandalone and
qemu-system-x86_64.

Modules:
  packages  - ar VIBs, vmtar/tgz payloads, offline bundles, legacy 3-file driver tgz
  iso       - build_esxi_iso(): small ESXi 6.x/7.0/8.0-shaped installer ISOs with boot markers
  bootcheck - boot(): boot an ISO/disk in QEMU (SeaBIOS or OVMF) and wait for serial markers
  demo      - `python tests/fixturegen/demo.py OUTDIR` writes the `make run` demo inputs

Use from unit tests:
  from ansible_collections.esxi.customizer.tests.fixturegen import packages, iso, bootcheck

Use from integration targets (run by path; works inside `ansible-test integration --venv` because
the collection tree is on disk beside the target; cli.py puts its own directory's parents on sys.path):
  - ansible.builtin.command:
      argv: ['{{ ansible_python_interpreter | default(ansible_playbook_python) }}',
             '{{ role_path }}/../../../fixturegen/cli.py', 'iso', '{{ output_dir }}/esxi70.iso', '--style', '70']
  cli.py prints one JSON document (the facts) on stdout. `cli.py --help` lists the sub-commands:
  iso, vib, bundle, legacy-tgz, boot.
"""
