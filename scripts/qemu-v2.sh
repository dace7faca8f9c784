#!/usr/bin/env bash
# Runs the cgroup test suite (tests/cgroup_real.rs) on a pure cgroup v2
# kernel, booted under qemu: this machine's memory controller is on v1, most
# users' machines are pure v2, so both must be tested for real.
#
# Debian's kernel boots with an initramfs holding busybox, the compiled test
# executable, the isolab binary and their shared libraries; /init mounts
# cgroup2 (cgroup_no_v1=all: nothing on v1), runs the suite, prints one
# result line and powers off. Software emulation only (KVM hangs here).
#
# Usage: scripts/qemu-v2.sh [--release | --profile NAME]
#        exit 0 only if every v2 test passed.
set -euo pipefail
cd "$(dirname "$0")/.."

profile_flag=()
case "${1:-}" in
    --release) profile_flag=(--release) ;;
    --profile) profile_flag=(--profile "$2") ;;
esac

need=()
command -v qemu-system-x86_64 >/dev/null 2>&1 || need+=(qemu-system-x86)
[ -x /bin/busybox ] || need+=(busybox-static)
command -v cpio >/dev/null 2>&1 || need+=(cpio)
ls /boot/vmlinuz-* >/dev/null 2>&1 || need+=(linux-image-cloud-amd64)
if [ ${#need[@]} -gt 0 ]; then
    echo "qemu-v2: installing ${need[*]}"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi

# The cloud kernel boots fastest; any Debian kernel with MEMCG works.
kernel=$(ls /boot/vmlinuz-*-cloud-amd64 2>/dev/null | sort -V | tail -1 || true)
[ -n "$kernel" ] || kernel=$(ls /boot/vmlinuz-* | sort -V | tail -1)

# Build the isolab binary and the cgroup test executable; find the latter.
cargo build "${profile_flag[@]}" --quiet --bin isolab
test_exe=$(cargo test "${profile_flag[@]}" --no-run --test cgroup_real --message-format=json |
    sed -n 's/.*"executable":"\([^"]*cgroup_real[^"]*\)".*/\1/p' | tail -1)
[ -x "$test_exe" ] || { echo "qemu-v2: could not build the cgroup_real test executable" >&2; exit 1; }
target_dir=$(dirname "$(dirname "$test_exe")")
isolab_bin="$target_dir/isolab"
[ -x "$isolab_bin" ] || { echo "qemu-v2: no isolab binary at $isolab_bin" >&2; exit 1; }

work=$(mktemp -d /tmp/isolab-qemu-v2.XXXXXX)
trap 'rm -rf "$work"' EXIT
root="$work/root"
mkdir -p "$root"/{bin,proc,sys,dev,tmp,etc}
cp /bin/busybox "$root/bin/busybox"
cp "$test_exe" "$root/bin/cgroup_real"
cp "$isolab_bin" "$root/bin/isolab"
# Shared libraries (and the loader) at the paths the binaries expect.
for lib in $( (ldd "$test_exe"; ldd "$isolab_bin") | awk '$2 == "=>" && $3 ~ /^\// {print $3} $1 ~ /^\// {print $1}' | sort -u); do
    mkdir -p "$root$(dirname "$lib")"
    cp -L "$lib" "$root$lib"
done
cp "$(dirname "$0")/../tests/qemu/init" "$root/init"
chmod +x "$root/init"
(cd "$root" && find . | cpio -o -H newc --quiet | gzip -1) > "$work/initramfs.gz"

echo "qemu-v2: booting $(basename "$kernel") (software emulation) to run the cgroup suite on v2"
log="$work/console.log"
set +e
timeout 600 qemu-system-x86_64 \
    -machine accel=tcg -cpu max -smp 2 -m 1G \
    -nographic -no-reboot -monitor none -serial stdio \
    -kernel "$kernel" -initrd "$work/initramfs.gz" \
    -append "console=ttyS0 quiet panic=-1 systemd.unified_cgroup_hierarchy=1 cgroup_no_v1=all" \
    </dev/null 2>&1 | tee "$log"
qemu_rc=${PIPESTATUS[0]}
set -e
result=$(grep -a -o 'ISOLAB-V2-RESULT [a-z]*=[0-9]*' "$log" | tail -1 || true)
if [ "$result" = "ISOLAB-V2-RESULT rc=0" ]; then
    echo "qemu-v2: cgroup v2 suite passed"
    exit 0
fi
echo "qemu-v2: cgroup v2 suite FAILED (qemu exit $qemu_rc, result: ${result:-none})" >&2
exit 1
