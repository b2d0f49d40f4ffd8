/* SPDX-License-Identifier: MIT */
#include "broker/usb_node.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "broker/reason.h"

void usb_node_close(struct usb_node *n)
{
	if (n->path_fd >= 0)
		close(n->path_fd);
	n->path_fd = -1;
}

/*
 * Opens one component below dirfd without following it. O_PATH opens even
 * nodes we could not read and never runs a driver's open(); O_NOFOLLOW on an
 * O_PATH open returns the link itself, which fstat then shows as a link.
 */
static int open_component(int dirfd, const char *name, int last, struct stat *st, char *why,
			  size_t whylen)
{
	int fd;

	fd = openat(dirfd, name, O_PATH | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0) {
		int err = -errno;

		if (err == -ENOENT)
			return reason_fail(why, whylen, err, "no such device node");
		return reason_fail(why, whylen, err, "cannot look up '%s': %s", name, strerror(-err));
	}
	if (fstat(fd, st) < 0) {
		int err = -errno;

		close(fd);
		return reason_fail(why, whylen, err, "cannot stat '%s': %s", name, strerror(-err));
	}
	if (S_ISLNK(st->st_mode)) {
		close(fd);
		return reason_fail(why, whylen, -EPERM, "'%s' is a symbolic link; links are never followed",
			    name);
	}
	if (!last && !S_ISDIR(st->st_mode)) {
		close(fd);
		return reason_fail(why, whylen, -ENOTDIR, "'%s' is not a directory", name);
	}
	return fd;
}

/*
 * Refuses '.', '..' and empty components before anything is looked up, so a
 * path that tries to climb is refused as such, whatever exists on the way.
 */
static int check_components(const char *rel, char *why, size_t whylen)
{
	for (const char *p = rel;;) {
		size_t len = strcspn(p, "/");

		if (len == 0)
			return reason_fail(why, whylen, -EINVAL, "empty component in the path");
		if ((len == 1 && p[0] == '.') || (len == 2 && p[0] == '.' && p[1] == '.'))
			return reason_fail(why, whylen, -EPERM, "'%.*s' component in the path",
					   (int)len, p);
		if (len > NAME_MAX)
			return reason_fail(why, whylen, -ENAMETOOLONG, "path component too long");
		if (p[len] == '\0')
			return 0;
		p += len + 1;
	}
}

/* Walks rel (relative to the root, no leading '/') component by component. */
static int walk(int rootfd, const char *rel, struct stat *st, char *why, size_t whylen)
{
	char name[NAME_MAX + 1];
	int dirfd = rootfd;
	const char *p = rel;

	for (;;) {
		const char *slash = strchr(p, '/');
		size_t len = slash ? (size_t)(slash - p) : strlen(p);
		int fd;

		/* check_components() bounded len and ruled out empty, '.' and '..'. */
		memcpy(name, p, len);
		name[len] = '\0';
		fd = open_component(dirfd, name, !slash, st, why, whylen);
		if (dirfd != rootfd)
			close(dirfd);
		if (fd < 0 || !slash)
			return fd;
		dirfd = fd;
		p = slash + 1;
	}
}

/*
 * The real path of the handle must be below the root's real path. The walk
 * already cannot leave the root; this second, independent check holds even
 * if the walk had a bug, and catches a root that is itself a bind mount trick.
 */
static int check_real_path(const char *root, int fd, char *why, size_t whylen)
{
	char proc[64], real[PATH_MAX], *real_root;
	ssize_t n;
	size_t rl;
	int err = 0;

	snprintf(proc, sizeof(proc), "/proc/self/fd/%d", fd);
	n = readlink(proc, real, sizeof(real) - 1);
	if (n < 0)
		return reason_fail(why, whylen, -errno, "cannot resolve the node: %s", strerror(errno));
	real[n] = '\0';
	real_root = realpath(root, NULL);
	if (!real_root)
		return reason_fail(why, whylen, -errno, "cannot resolve %s: %s", root, strerror(errno));
	rl = strlen(real_root);
	if (strncmp(real, real_root, rl) != 0 || real[rl] != '/')
		err = reason_fail(why, whylen, -EPERM, "real path %s is not under %s", real, root);
	free(real_root);
	return err;
}

int usb_node_lookup(const struct broker_config *c, const char *path, struct usb_node *n,
		    char *why, size_t whylen)
{
	size_t rl = strlen(c->dev_root);
	struct stat st;
	int rootfd, fd, err;

	n->path_fd = -1;
	if (path[0] != '/')
		return reason_fail(why, whylen, -EINVAL, "not an absolute path");
	if (strlen(path) >= PATH_MAX)
		return reason_fail(why, whylen, -ENAMETOOLONG, "path too long");
	/* Textually under the root: the walk starts there, so nothing above it is ever looked at. */
	if (strncmp(path, c->dev_root, rl) != 0 || path[rl] != '/' || path[rl + 1] == '\0')
		return reason_fail(why, whylen, -EPERM, "not a device node under %s", c->dev_root);

	err = check_components(path + rl + 1, why, whylen);
	if (err)
		return err;
	rootfd = open(c->dev_root, O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (rootfd < 0) {
		err = -errno;
		return reason_fail(why, whylen, err == -ENOENT ? -ENOENT : err, "cannot open %s: %s",
			    c->dev_root, strerror(-err));
	}
	fd = walk(rootfd, path + rl + 1, &st, why, whylen);
	close(rootfd);
	if (fd < 0)
		return fd;

	if (!S_ISCHR(st.st_mode)) {
		err = reason_fail(why, whylen, -EPERM, "not a character device (%s)",
			   S_ISREG(st.st_mode) ? "a regular file" :
			   S_ISDIR(st.st_mode) ? "a directory" :
			   S_ISBLK(st.st_mode) ? "a block device" : "a special file");
		goto out;
	}
	if (major(st.st_rdev) != c->usb_major) {
		err = reason_fail(why, whylen, -EPERM, "character device %u:%u is not a usbfs node (major %u)",
			   major(st.st_rdev), minor(st.st_rdev), c->usb_major);
		goto out;
	}
	err = check_real_path(c->dev_root, fd, why, whylen);
	if (err)
		goto out;
	n->path_fd = fd;
	n->rdev = st.st_rdev;
	n->dev = st.st_dev;
	n->ino = st.st_ino;
	return 0;
out:
	close(fd);
	return err;
}

int usb_node_open(const struct usb_node *n, int *fd, char *why, size_t whylen)
{
	char proc[64];
	struct stat st;
	int f;

	*fd = -1;
	snprintf(proc, sizeof(proc), "/proc/self/fd/%d", n->path_fd);
	/* /proc/self/fd/N re-opens the inode the handle names, not whatever the path names now. */
	f = open(proc, O_RDWR | O_CLOEXEC | O_NOCTTY);
	if (f < 0)
		return reason_fail(why, whylen, -errno, "cannot open the device node: %s", strerror(errno));
	if (fstat(f, &st) < 0 || st.st_rdev != n->rdev || st.st_dev != n->dev ||
	    st.st_ino != n->ino) {
		close(f);
		return reason_fail(why, whylen, -ESTALE, "the node changed while it was opened");
	}
	*fd = f;
	return 0;
}
