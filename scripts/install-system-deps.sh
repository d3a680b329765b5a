#!/usr/bin/env bash
# Install the Debian packages the tests and the demo need; skips apt when all are present.
set -euo pipefail

packages=(
    xorriso genisoimage libarchive-tools          # independent ISO writers/readers
    isolinux syslinux-common grub-efi-amd64-bin    # boot markers for fixture ISOs
    mtools dosfstools                              # EFIBOOT.IMG (FAT) for fixture ISOs
    qemu-system-x86 ovmf                           # boot checks (SeaBIOS and OVMF)
    tftpd-hpa tftp-hpa pxelinux                    # PXE publish tests (pxelinux.0 for the BIOS network boot)
    golang-go golang-github-vmware-govmomi-dev     # vSphere simulator for datastore tests
    shellcheck curl git make
    syslinux fdisk                                 # disk_image: syslinux installer (BIOS boot of USB images); sfdisk reads them back
    openssh-server openssh-client                  # remote PXE publication: a real sshd on a loopback port
    busybox                                        # the shell of ESXi %pre scripts, to run the MAC-keyed kickstart
)

missing=()
for p in "${packages[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then
    exit 0
fi
if [ "$(id -u)" -ne 0 ]; then
    sudo=sudo
else
    sudo=
fi
echo "Installing system packages: ${missing[*]}"
$sudo apt-get update -qq
DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}"
