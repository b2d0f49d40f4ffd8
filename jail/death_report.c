/* SPDX-License-Identifier: MIT */
#include "jail/death_report.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <seccomp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

/* Records read looking for the audit line; the kernel log of a busy host is long. */
#define KMSG_MAX_RECORDS 4096
/* kauditd prints the record shortly after the kill, from its own thread. */
#define KMSG_WAIT_MS 1000
#define KMSG_RECORD_MAX 8192

int jail_kmsg_open(void)
{
	int fd = open("/dev/kmsg", O_RDONLY | O_NONBLOCK | O_CLOEXEC);

	if (fd < 0)
		return -1;
	/* Only records written from now on are ours to read. */
	if (lseek(fd, 0, SEEK_END) < 0) {
		close(fd);
		return -1;
	}
	return fd;
}

/* The decimal value after "key=" in text, as a whole word; -1 if absent. */
static long field(const char *text, const char *key)
{
	size_t klen = strlen(key);

	for (const char *p = strstr(text, key); p; p = strstr(p + 1, key)) {
		char *end;
		long v;

		if (p != text && p[-1] != ' ')
			continue;
		errno = 0;
		v = strtol(p + klen, &end, 10);
		if (!errno && end != p + klen && (*end == ' ' || *end == '\0' || *end == '\n'))
			return v;
	}
	return -1;
}

int jail_parse_seccomp_record(const char *record, pid_t pid)
{
	long nr;

	/* type=1326 is AUDIT_SECCOMP; sig=31 marks a kill rather than a logged allow. */
	if (!strstr(record, "type=1326") || field(record, "pid=") != pid || field(record, "sig=") != SIGSYS)
		return -1;
	nr = field(record, "syscall=");
	return nr >= 0 && nr < 4096 ? (int)nr : -1;
}

static int find_seccomp_syscall(int kmsg_fd, pid_t pid)
{
	char record[KMSG_RECORD_MAX];

	if (kmsg_fd < 0)
		return -1;
	for (int i = 0; i < KMSG_MAX_RECORDS; i++) {
		ssize_t n = read(kmsg_fd, record, sizeof(record) - 1);
		int nr;

		if (n < 0 && errno == EPIPE)
			continue;	/* records were overwritten; read on from the oldest left */
		if (n < 0 && errno == EAGAIN) {
			struct pollfd pfd = { .fd = kmsg_fd, .events = POLLIN };

			if (poll(&pfd, 1, KMSG_WAIT_MS) <= 0)
				return -1;
			continue;
		}
		if (n <= 0)
			return -1;
		record[n] = '\0';
		nr = jail_parse_seccomp_record(record, pid);
		if (nr >= 0)
			return nr;
	}
	return -1;
}

void jail_describe_exit(pid_t pid, int status, int kmsg_fd, char *buf, size_t len)
{
	if (WIFEXITED(status)) {
		snprintf(buf, len, "exited with status %d", WEXITSTATUS(status));
		return;
	}
	if (!WIFSIGNALED(status)) {
		snprintf(buf, len, "ended with wait status %#x", status);
		return;
	}
	if (WTERMSIG(status) == SIGSYS) {
		int nr = find_seccomp_syscall(kmsg_fd, pid);
		char *name = nr >= 0 ? seccomp_syscall_resolve_num_arch(SCMP_ARCH_NATIVE, nr) : NULL;

		if (nr >= 0)
			snprintf(buf, len, "killed by SIGSYS: seccomp violation, syscall %s (%d)",
				 name ? name : "?", nr);
		else
			snprintf(buf, len, "killed by SIGSYS: seccomp violation (syscall not in the kernel log)");
		free(name);
		return;
	}
	snprintf(buf, len, "killed by signal %d (%s)%s", WTERMSIG(status), strsignal(WTERMSIG(status)),
		 WCOREDUMP(status) ? ", core dumped" : "");
}
