/* Files netkit creates or writes as root: opened without following a symbolic link. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stddef.h>
#include <sys/stat.h>
#include <unistd.h>

#include "netkit.h"

_Static_assert(sizeof(struct nk_file_stat) == 32, "struct nk_file_stat is 32 bytes");
_Static_assert(offsetof(struct nk_file_stat, mode) == 16, "nk_file_stat.mode at 16");

int nk_file_open(const char *path, uint32_t flags, uint32_t mode, struct nk_file_stat *out)
{
	/*
	 * O_NOFOLLOW: a symbolic link as the last component fails with ELOOP. O_NONBLOCK: a FIFO
	 * planted at the path cannot block the open (the caller refuses anything but a regular
	 * file or directory). Never O_TRUNC: nothing is changed before the caller has checked
	 * what was opened.
	 */
	int oflags = O_NOFOLLOW | O_CLOEXEC | O_NOCTTY | O_NONBLOCK;
	struct stat st;
	int fd;

	if (flags & ~(NK_OPEN_READ | NK_OPEN_WRITE | NK_OPEN_APPEND | NK_OPEN_CREATE |
		      NK_OPEN_EXCLUSIVE | NK_OPEN_DIRECTORY))
		return -EINVAL;
	if ((flags & NK_OPEN_READ) && (flags & NK_OPEN_WRITE))
		oflags |= O_RDWR;
	else if (flags & NK_OPEN_WRITE)
		oflags |= O_WRONLY;
	else
		oflags |= O_RDONLY;
	if (flags & NK_OPEN_APPEND)
		oflags |= O_APPEND;
	if (flags & NK_OPEN_CREATE)
		oflags |= O_CREAT;
	if (flags & NK_OPEN_EXCLUSIVE)
		oflags |= O_CREAT | O_EXCL;
	if (flags & NK_OPEN_DIRECTORY)
		oflags |= O_DIRECTORY;

	do
		fd = open(path, oflags, (mode_t)(mode & 07777));
	while (fd < 0 && errno == EINTR);
	if (fd < 0)
		return -errno;
	if (fstat(fd, &st) < 0) {
		int err = errno;

		close(fd);
		return -err;
	}
	out->dev = st.st_dev;
	out->ino = st.st_ino;
	out->mode = st.st_mode;
	out->uid = st.st_uid;
	out->gid = st.st_gid;
	out->nlink = (uint32_t)st.st_nlink;
	return fd;
}
