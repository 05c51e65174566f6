/* A NETLINK_ROUTE socket; messages are built and parsed in TypeScript (lib/net/rtnetlink.ts). */
#define _GNU_SOURCE
#include <errno.h>
#include <linux/netlink.h>
#include <sys/socket.h>
#include <unistd.h>

#include "netkit.h"

_Static_assert(sizeof(struct sockaddr_nl) == 12, "sockaddr_nl is 12 bytes");
_Static_assert(sizeof(struct nlmsghdr) == 16, "nlmsghdr is 16 bytes");

int nk_netlink_open(uint32_t groups, uint32_t rcvbuf)
{
	struct sockaddr_nl snl = { .nl_family = AF_NETLINK, .nl_groups = groups };
	int fd = socket(AF_NETLINK, SOCK_RAW | SOCK_NONBLOCK | SOCK_CLOEXEC, NETLINK_ROUTE);
	int one = 1;

	if (fd < 0)
		return -errno;
	/* Extended acks carry the kernel's own explanation of a refused request. */
	(void)setsockopt(fd, SOL_NETLINK, NETLINK_EXT_ACK, &one, sizeof(one));
	if (rcvbuf > 0) {
		int rc = nk_set_rcvbuf(fd, rcvbuf);

		if (rc < 0) {
			close(fd);
			return rc;
		}
	}
	if (bind(fd, (struct sockaddr *)&snl, sizeof(snl)) < 0) {
		int err = errno;

		close(fd);
		return -err;
	}
	return fd;
}
