/* SPDX-License-Identifier: MIT */
#include "common/socket_file.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

void socket_file_init(struct socket_file *f)
{
	memset(f, 0, sizeof(*f));
	f->dir_fd = -1;
}

int socket_file_open(struct socket_file *f, const char *path)
{
	const char *slash = strrchr(path, '/');
	const char *name = slash ? slash + 1 : path;
	char dir[sizeof(f->name)];
	struct stat st;
	int err;

	socket_file_init(f);
	if (strlen(path) >= sizeof(dir) || !name[0])
		return -EINVAL;
	if (!slash) {
		strcpy(dir, ".");
	} else {
		size_t n = slash == path ? 1 : (size_t)(slash - path);

		memcpy(dir, path, n);
		dir[n] = '\0';
	}
	strcpy(f->name, name);
	f->dir_fd = open(dir, O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (f->dir_fd < 0)
		return -errno;
	/* Through the directory it will be removed from, so the two can never disagree. */
	if (fstatat(f->dir_fd, f->name, &st, AT_SYMLINK_NOFOLLOW) < 0)
		err = -errno;
	else
		err = S_ISSOCK(st.st_mode) ? 0 : -ENOTSOCK;
	if (err) {
		close(f->dir_fd);
		socket_file_init(f);
		return err;
	}
	f->dev = st.st_dev;
	f->ino = st.st_ino;
	return 0;
}

void socket_file_remove(struct socket_file *f)
{
	struct stat st;

	if (f->dir_fd < 0)
		return;
	/* Only our own file: another VM or broker may have taken the path since. */
	if (fstatat(f->dir_fd, f->name, &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISSOCK(st.st_mode) &&
	    st.st_dev == f->dev && st.st_ino == f->ino)
		unlinkat(f->dir_fd, f->name, 0);
	close(f->dir_fd);
	socket_file_init(f);
}
