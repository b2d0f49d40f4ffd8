/* SPDX-License-Identifier: MIT */
/*
 * The constants come from the system headers the code is built with, so the
 * policy text always means what the kernel and libusb use on this build.
 */
#include "jail/seccomp_constants.h"

#include <fcntl.h>
#include <linux/kvm.h>
#include <linux/rseq.h>
#include <linux/usbdevice_fs.h>
#include <signal.h>
#include <termios.h>
#include <sched.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/timerfd.h>
#include <sys/wait.h>

struct named_constant {
	const char *name;
	uint64_t value;
};

#define C(x) { #x, (uint64_t)(x) }

static const struct named_constant constants[] = {
	/* memory protection: the jail never allows executable mappings */
	C(PROT_NONE), C(PROT_READ), C(PROT_WRITE), C(PROT_EXEC),
	C(MAP_SHARED), C(MAP_PRIVATE), C(MAP_ANONYMOUS), C(MAP_FIXED),
	C(MADV_DONTNEED), C(MADV_FREE),
	/* descriptors */
	C(F_GETFD), C(F_SETFD), C(F_GETFL), C(F_SETFL), C(F_DUPFD_CLOEXEC),
	C(O_CLOEXEC), C(O_NONBLOCK), C(AT_EMPTY_PATH), C(AT_SYMLINK_NOFOLLOW),
	C(EFD_CLOEXEC), C(EFD_NONBLOCK), C(TFD_CLOEXEC), C(TFD_NONBLOCK),
	C(FIONBIO), C(FIOCLEX),
	C(MSG_CMSG_CLOEXEC), C(MSG_NOSIGNAL), C(MSG_DONTWAIT), C(MSG_TRUNC),
	C(AF_UNIX), C(SOCK_SEQPACKET), C(SOCK_CLOEXEC), C(SOCK_NONBLOCK),
	C(SOL_SOCKET), C(SO_PEERCRED),
	/* open flags: the broker opens files, never to create, truncate or append */
	C(O_RDONLY), C(O_WRONLY), C(O_RDWR), C(O_ACCMODE), C(O_CREAT), C(O_EXCL), C(O_TRUNC),
	C(O_APPEND), C(O_PATH), C(O_DIRECTORY), C(O_NOFOLLOW), C(O_NOCTTY),
	/* The kernel's __O_TMPFILE bit; glibc's __O_TMPFILE also has O_DIRECTORY, which is harmless. */
	{ "__O_TMPFILE", (uint64_t)(O_TMPFILE & ~O_DIRECTORY) },
	/* the VMM: KVM requests after setup, the terminal, signals it sends */
	C(KVM_RUN), C(KVM_GET_REGS), C(KVM_GET_SREGS), C(KVM_TRANSLATE), C(KVM_IRQ_LINE), C(KVM_SET_GSI_ROUTING),
	C(KVM_IRQFD), C(KVM_IOEVENTFD), C(KVM_SIGNAL_MSI), C(KVM_SET_USER_MEMORY_REGION), C(TCGETS), C(TCSETS),
	C(SIGKILL), C(SIGUSR1), C(SIGTERM), C(RSEQ_FLAG_UNREGISTER),
	C(P_PID), C(WNOHANG), C(WEXITED), C(WNOWAIT),
	/* process creation, for policies that allow threads */
	C(CLONE_VM), C(CLONE_FS), C(CLONE_FILES), C(CLONE_SIGHAND), C(CLONE_THREAD),
	C(CLONE_SYSVSEM), C(CLONE_SETTLS), C(CLONE_PARENT_SETTID), C(CLONE_CHILD_CLEARTID),
	/* usbfs requests libusb 1.0.26 issues on a wrapped device fd */
	C(USBDEVFS_CONTROL), C(USBDEVFS_BULK), C(USBDEVFS_RESETEP),
	C(USBDEVFS_SETINTERFACE), C(USBDEVFS_SETCONFIGURATION), C(USBDEVFS_GETDRIVER),
	C(USBDEVFS_SUBMITURB), C(USBDEVFS_DISCARDURB), C(USBDEVFS_REAPURB),
	C(USBDEVFS_REAPURBNDELAY), C(USBDEVFS_CLAIMINTERFACE), C(USBDEVFS_RELEASEINTERFACE),
	C(USBDEVFS_CONNECTINFO), C(USBDEVFS_IOCTL), C(USBDEVFS_RESET), C(USBDEVFS_CLEAR_HALT),
	C(USBDEVFS_DISCONNECT), C(USBDEVFS_CONNECT), C(USBDEVFS_GET_CAPABILITIES),
	C(USBDEVFS_DISCONNECT_CLAIM), C(USBDEVFS_ALLOC_STREAMS), C(USBDEVFS_FREE_STREAMS),
	C(USBDEVFS_DROP_PRIVILEGES), C(USBDEVFS_GET_SPEED),
	{ "USBDEVFS_CONNINFO_EX", USBDEVFS_CONNINFO_EX(sizeof(struct usbdevfs_conninfo_ex)) },
};

bool seccomp_constant_lookup(const char *name, size_t len, uint64_t *value)
{
	for (size_t i = 0; i < sizeof(constants) / sizeof(constants[0]); i++) {
		if (strlen(constants[i].name) == len && !memcmp(constants[i].name, name, len)) {
			*value = constants[i].value;
			return true;
		}
	}
	return false;
}
