/* Entering a named network namespace, or a new one. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <unistd.h>

#include "netkit.h"

int nk_netns_enter(const char *path)
{
	/* /run/netns/NAME is a bind mount, never a link: one planted there is not followed. */
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	int rc = 0;

	if (fd < 0)
		return -errno;
	/* Affects only the calling thread: netkit calls this on the JS thread before opening sockets. */
	if (setns(fd, CLONE_NEWNET) < 0)
		rc = -errno;
	close(fd);
	return rc;
}

int nk_netns_current(void)
{
	int fd = open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC);

	return fd < 0 ? -errno : fd;
}

int nk_netns_set(int fd)
{
	return setns(fd, CLONE_NEWNET) < 0 ? -errno : 0;
}

int nk_netns_unshare(void)
{
	/* Like setns, CLONE_NEWNET moves only the calling thread (its nsproxy), not the process. */
	return unshare(CLONE_NEWNET) < 0 ? -errno : 0;
}
