// SPDX-License-Identifier: Apache-2.0
/* loadmod: load or unload a kernel module through exactly the syscall a VM test names.
 *
 *   loadmod init FILE [params...]
 *   loadmod finit FILE [--compressed] [--ignore-modversions] [--ignore-vermagic] [params...]
 *   loadmod delete NAME
 *   loadmod kexec KERNEL INITRD|- [CMDLINE]   kexec_file_load; "-" passes no initramfs
 *   loadmod kexec-unload                       kexec_file_load(KEXEC_FILE_UNLOAD)
 *   loadmod kexec-legacy                       kexec_load with no segments
 *   loadmod write FILE TEXT                    one write(2) of TEXT (no newline), e.g. to
 *                                              test_firmware's trigger_request
 *   loadmod prlimit PID RESOURCE LIMIT         prlimit(2) of PID's RESOURCE (nofile, fsize, cpu,
 *                                              as) to LIMIT, soft and hard
 *   loadmod sigio PID SIG                      a pipe owned by PID (F_SETOWN) with O_ASYNC and
 *                                              F_SETSIG SIG (0: plain SIGIO), then a write to it:
 *                                              a signal that never passes task_kill
 *
 * The kexec operations only stage (or drop) an image; nothing here reboots. kexec-legacy asks
 * the old syscall to unload, which passes the same LSM hook as a real load (kernel_load_data,
 * LOADING_KEXEC_IMAGE) but cannot change anything when it succeeds.
 *
 * kmod picks finit_module or init_module by itself (and decompresses in userspace when it likes),
 * and each syscall reaches the LSM through a different hook, so tests that must hit one path
 * precisely use this instead. init does not decompress: pass an already decompressed .ko.
 *
 * Prints one line, "loadmod: <op> <file>: ok" or "loadmod: <op> <file>: <strerror> (errno N)",
 * and exits with the syscall's errno (0 on success) so a guest script can assert e.g. EPERM = 1.
 * Failures before the syscall (usage, unreadable file) exit 255, which no errno uses, so they
 * cannot pass for a denial.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

/* From <linux/module.h>, spelled out so the tool builds against any kernel headers. */
#define LOADMOD_IGNORE_MODVERSIONS 1
#define LOADMOD_IGNORE_VERMAGIC 2
#define LOADMOD_COMPRESSED_FILE 4

/* From <linux/kexec.h>, likewise. */
#define LOADMOD_KEXEC_FILE_UNLOAD 0x1
#define LOADMOD_KEXEC_FILE_NO_INITRAMFS 0x4
#define LOADMOD_KEXEC_ARCH_DEFAULT 0

#define SETUP_FAILURE 255

static int usage(void)
{
	fputs("usage: loadmod init FILE [params...]\n"
	      "       loadmod finit FILE [--compressed] [--ignore-modversions] [--ignore-vermagic] "
	      "[params...]\n"
	      "       loadmod delete NAME\n"
	      "       loadmod kexec KERNEL INITRD|- [CMDLINE]\n"
	      "       loadmod kexec-unload\n"
	      "       loadmod kexec-legacy\n"
	      "       loadmod write FILE TEXT\n"
	      "       loadmod sigio PID SIG\n"
	      "       loadmod prlimit PID RESOURCE LIMIT\n",
	      stderr);
	return SETUP_FAILURE;
}

static int report(const char *op, const char *what, long ret, int err)
{
	if (ret == 0) {
		printf("loadmod: %s %s: ok\n", op, what);
		return 0;
	}
	printf("loadmod: %s %s: %s (errno %d)\n", op, what, strerror(err), err);
	/* An errno that does not fit an exit status would read as success or as another errno. */
	return err > 0 && err < SETUP_FAILURE ? err : SETUP_FAILURE;
}

static int setup_failure(const char *op, const char *what, const char *step)
{
	printf("loadmod: %s %s: %s failed before the syscall: %s (errno %d)\n", op, what, step,
	       strerror(errno), errno);
	return SETUP_FAILURE;
}

/* Module parameters are passed like insmod does: the remaining words joined by spaces. */
static char *join_params(int argc, char **argv)
{
	size_t len = 1;
	for (int i = 0; i < argc; i++)
		len += strlen(argv[i]) + 1;
	char *params = calloc(len, 1);
	if (!params)
		return NULL;
	for (int i = 0; i < argc; i++) {
		if (i)
			strcat(params, " ");
		strcat(params, argv[i]);
	}
	return params;
}

static int do_init(const char *file, int argc, char **argv)
{
	int fd = open(file, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return setup_failure("init", file, "open");
	struct stat st;
	if (fstat(fd, &st) < 0)
		return setup_failure("init", file, "stat");
	size_t len = (size_t)st.st_size;
	char *buf = malloc(len ? len : 1);
	if (!buf)
		return setup_failure("init", file, "malloc");
	size_t got = 0;
	while (got < len) {
		ssize_t n = read(fd, buf + got, len - got);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return setup_failure("init", file, "read");
		if (n == 0)
			break;
		got += (size_t)n;
	}
	close(fd);
	char *params = join_params(argc, argv);
	if (!params)
		return setup_failure("init", file, "malloc");
	long ret = syscall(SYS_init_module, buf, got, params);
	int err = errno;
	free(params);
	free(buf);
	return report("init", file, ret, err);
}

static int do_finit(const char *file, int argc, char **argv)
{
	int flags = 0;
	int i = 0;
	for (; i < argc && strncmp(argv[i], "--", 2) == 0; i++) {
		if (strcmp(argv[i], "--compressed") == 0)
			flags |= LOADMOD_COMPRESSED_FILE;
		else if (strcmp(argv[i], "--ignore-modversions") == 0)
			flags |= LOADMOD_IGNORE_MODVERSIONS;
		else if (strcmp(argv[i], "--ignore-vermagic") == 0)
			flags |= LOADMOD_IGNORE_VERMAGIC;
		else {
			fprintf(stderr, "loadmod: unknown finit option %s\n", argv[i]);
			return usage();
		}
	}
	int fd = open(file, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return setup_failure("finit", file, "open");
	char *params = join_params(argc - i, argv + i);
	if (!params)
		return setup_failure("finit", file, "malloc");
	long ret = syscall(SYS_finit_module, fd, params, flags);
	int err = errno;
	free(params);
	close(fd);
	return report("finit", file, ret, err);
}

static int do_delete(const char *name)
{
	long ret = syscall(SYS_delete_module, name, O_NONBLOCK);
	return report("delete", name, ret, errno);
}

static int do_kexec(const char *kernel, const char *initrd, const char *cmdline)
{
	unsigned long flags = 0;
	int initrd_fd = -1;
	int kernel_fd = open(kernel, O_RDONLY | O_CLOEXEC);
	if (kernel_fd < 0)
		return setup_failure("kexec", kernel, "open");
	if (strcmp(initrd, "-") == 0) {
		flags |= LOADMOD_KEXEC_FILE_NO_INITRAMFS;
	} else {
		initrd_fd = open(initrd, O_RDONLY | O_CLOEXEC);
		if (initrd_fd < 0)
			return setup_failure("kexec", initrd, "open");
	}
	/* The length counts the NUL; the kernel refuses a command line without one. */
	long ret = syscall(SYS_kexec_file_load, kernel_fd, initrd_fd, strlen(cmdline) + 1, cmdline,
			   flags);
	int err = errno;
	close(kernel_fd);
	if (initrd_fd >= 0)
		close(initrd_fd);
	return report("kexec", kernel, ret, err);
}

static int do_kexec_unload(void)
{
	long ret = syscall(SYS_kexec_file_load, -1, -1, 0UL, NULL,
			   (unsigned long)LOADMOD_KEXEC_FILE_UNLOAD);
	return report("kexec-unload", "image", ret, errno);
}

static int do_kexec_legacy(void)
{
	long ret =
		syscall(SYS_kexec_load, 0UL, 0UL, NULL, (unsigned long)LOADMOD_KEXEC_ARCH_DEFAULT);
	return report("kexec-legacy", "unload", ret, errno);
}

/* A shell's echo reports a failed write only as text; the firmware tests need the errno. */
static int do_write(const char *file, const char *text)
{
	int fd = open(file, O_WRONLY | O_CLOEXEC);
	if (fd < 0)
		return setup_failure("write", file, "open");
	ssize_t n = write(fd, text, strlen(text));
	int err = errno;
	close(fd);
	if (n >= 0 && (size_t)n != strlen(text)) {
		printf("loadmod: write %s: short write (%zd of %zu bytes)\n", file, n,
		       strlen(text));
		return SETUP_FAILURE;
	}
	return report("write", file, n < 0 ? -1 : 0, err);
}

/*
 * The kernel queues the signal to the owner from inside write(2) (kill_fasync, send_sigio); a
 * refusal by the LSM is silent, so the write succeeds either way and the caller checks whether
 * the target lived. Reports the write.
 */
static int do_sigio(const char *pid_text, const char *sig_text)
{
	char *end;
	long pid = strtol(pid_text, &end, 10);
	if (*end || pid <= 0)
		return setup_failure("sigio", pid_text, "PID");
	long sig = strtol(sig_text, &end, 10);
	if (*end || sig < 0 || sig > 64)
		return setup_failure("sigio", sig_text, "SIG");
	int p[2];
	if (pipe(p) != 0)
		return setup_failure("sigio", pid_text, "pipe");
	if (fcntl(p[0], F_SETOWN, (int)pid) != 0)
		return setup_failure("sigio", pid_text, "F_SETOWN");
	if (fcntl(p[0], F_SETSIG, (int)sig) != 0)
		return setup_failure("sigio", sig_text, "F_SETSIG");
	if (fcntl(p[0], F_SETFL, fcntl(p[0], F_GETFL) | O_ASYNC) != 0)
		return setup_failure("sigio", pid_text, "O_ASYNC");
	ssize_t n = write(p[1], "x", 1);
	int err = errno;
	close(p[0]);
	close(p[1]);
	return report("sigio", pid_text, n == 1 ? 0 : -1, err);
}

static int do_prlimit(const char *pid_text, const char *what, const char *limit_text)
{
	static const struct {
		const char *name;
		int resource;
	} names[] = {{"nofile", RLIMIT_NOFILE}, {"fsize", RLIMIT_FSIZE}, {"cpu", RLIMIT_CPU},
		     {"as", RLIMIT_AS}};
	char *end;
	long pid = strtol(pid_text, &end, 10);
	if (*end || pid <= 0)
		return setup_failure("prlimit", pid_text, "PID");
	unsigned long long limit = strtoull(limit_text, &end, 10);
	if (*end)
		return setup_failure("prlimit", limit_text, "LIMIT");
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		if (strcmp(names[i].name, what) != 0)
			continue;
		struct rlimit r = {.rlim_cur = limit, .rlim_max = limit};
		int rc = prlimit((pid_t)pid, names[i].resource, &r, NULL);
		return report("prlimit", what, rc, errno);
	}
	return setup_failure("prlimit", what, "RESOURCE");
}

int main(int argc, char **argv)
{
	/* The guest console interleaves our line with kernel messages; keep it whole and ordered.
	 */
	setvbuf(stdout, NULL, _IOLBF, 0);
	if (argc == 2 && strcmp(argv[1], "kexec-unload") == 0)
		return do_kexec_unload();
	if (argc == 2 && strcmp(argv[1], "kexec-legacy") == 0)
		return do_kexec_legacy();
	if (argc < 3)
		return usage();
	const char *op = argv[1];
	if (strcmp(op, "kexec") == 0 && (argc == 4 || argc == 5))
		return do_kexec(argv[2], argv[3], argc == 5 ? argv[4] : "");
	if (strcmp(op, "init") == 0)
		return do_init(argv[2], argc - 3, argv + 3);
	if (strcmp(op, "finit") == 0)
		return do_finit(argv[2], argc - 3, argv + 3);
	if (strcmp(op, "write") == 0 && argc == 4)
		return do_write(argv[2], argv[3]);
	if (strcmp(op, "sigio") == 0 && argc == 4)
		return do_sigio(argv[2], argv[3]);
	if (strcmp(op, "prlimit") == 0 && argc == 5)
		return do_prlimit(argv[2], argv[3], argv[4]);
	if (strcmp(op, "delete") == 0 && argc == 3)
		return do_delete(argv[2]);
	return usage();
}
