# Copyright: esxi.customizer contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Our own generator of ESXi-shaped test data (written from shared/reference/esxi-formats.md).

Independent of plugins/ and module_utils/ on purpose: it is the test data the code under test is
checked against. Stdlib only, plus the binaries xorriso, mkfs.vfat + mtools, grub-mkstandalone and
qemu-system-x86_64 (with Debian's isolinux, syslinux-common, grub-efi-amd64-bin and ovmf files).

Modules:
  packages  - ar VIBs, vmtar/tgz payloads, offline bundles, legacy 3-file driver tgz
  iso       - build_esxi_iso(): small ESXi 6.x/7.0/8.0-shaped installer ISOs with boot markers
  bootcheck - boot(): boot an ISO/disk in QEMU (SeaBIOS or OVMF) and wait for serial markers
  cli       - command line over all of the above (prints JSON)
  demo      - `python tests/fixturegen/demo.py OUTDIR` writes the `make run` demo inputs

From unit tests (works under scripts/pytest.sh and `ansible-test units`):
  from ansible_collections.esxi.customizer.tests.fixturegen import packages, iso, bootcheck

From integration targets: run cli.py by path with the controller's Python. ansible-test runs a *copy* of
the target under tests/output/.tmp/integration/..., so a role_path-relative path does not reach
tests/fixturegen; the collection itself is on ANSIBLE_COLLECTIONS_PATH. Copy this (see
tests/integration/targets/fixtures_boot/tasks/main.yml):

  - name: Locate the fixture generator
    ansible.builtin.set_fact:
      fixturegen: ["{{ ansible_playbook_python }}", "{{ lookup('ansible.builtin.first_found', candidates) }}"]
    vars:
      candidates: "{{ [role_path ~ '/../../../fixturegen/cli.py']
                      + (lookup('ansible.builtin.env', 'ANSIBLE_COLLECTIONS_PATH', default='').split(':')
                         | select | map('regex_replace', '$', '/ansible_collections/esxi/customizer/tests/fixturegen/cli.py') | list) }}"
  - name: Build an ISO
    ansible.builtin.command:
      argv: "{{ fixturegen + ['iso', output_dir ~ '/esxi70.iso', '--style', '70'] }}"
    register: built        # (built.stdout | from_json) = the facts build_esxi_iso() returns

cli.py sub-commands: iso, vib, bundle, legacy-tgz, boot (`cli.py SUBCOMMAND --help`). Each prints one JSON
document; `boot` exits 1 when a marker was not seen.
"""
