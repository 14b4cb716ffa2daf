# SPDX-License-Identifier: Apache-2.0
# Guest half of bench/vm_sha256.sh (read that first). POSIX sh, run by dash in the VM.
# /bench/params sets SIZES, REPS and SAMPLE. Every figure goes to the console as one
# "R <what> key=value..." line; the host turns them into the tables.
# shellcheck shell=sh disable=SC1091 # a guest path
. /bench/params

# The kernel's own JIT settings: the figures are the JIT's code unless bpf_jit_enable is 0 (and an
# interpreter-less kernel, CONFIG_BPF_JIT_ALWAYS_ON as Debian builds, reads 1 and cannot turn it off).
sysctl_val() { cat "/proc/sys/net/core/$1" 2>/dev/null || echo none; }
# What OpenSSL's default column can use on QEMU's -cpu max (the scalar column masks them all).
flags=$(awk -F: '/^flags/ { print $2; exit }' /proc/cpuinfo | tr ' ' '\n' | grep -xE 'sha_ni|avx2|avx|ssse3|bmi2' | paste -sd, -)
echo "guest: $(nproc) CPU, $(sed -n 's/^MemTotal: *//p' /proc/meminfo), kernel $(uname -r), CPU flags used by OpenSSL: ${flags:-none}"
echo "R kernel release=$(uname -r) jit_enable=$(sysctl_val bpf_jit_enable) jit_harden=$(sysctl_val bpf_jit_harden)"

# Right after boot the kernel is still busy in the background (the crypto self-tests'
# cryptomgr_test threads and unbound kworkers, some 0.7 s of CPU on trixie), and a bench started
# then shares the CPU with it: on both 6.12 kernels the 64 KiB figure came out at about half of
# what the same boot measured a few seconds later.
# So wait, up to 60 s, for a second with at most one tick (1/100 s) of busy time. Idle seconds
# cost nothing here: the instruction clock skips them (run-vm --icount).
busy() { awk '/^cpu / { t = 0; for (i = 2; i <= NF; i++) t += $i; print t - $5 - $6; exit }' /proc/stat; }
waited=0
while [ "$waited" -lt 60 ]; do
	b0=$(busy)
	sleep 1
	waited=$((waited + 1))
	[ $(($(busy) - b0)) -le 1 ] && break
done
echo "R quiet waited_s=$waited uptime_s=$(cut -d' ' -f1 /proc/uptime)"

if ! bpf_sha256_bench --raw --sizes "$SIZES" --repeat "$REPS" --sample-bytes "$SAMPLE" >/tmp/sha.out 2>/tmp/sha.err; then
	echo "FAIL: bpf_sha256_bench:"
	cat /tmp/sha.out /tmp/sha.err
	exit 1
fi
sed 's/^/R /' /tmp/sha.out
cat /tmp/sha.err
echo "BENCH-DONE"
