/* Plain descriptors: close, read, write, epoll and an eventfd to wake a wait. */
#define _GNU_SOURCE
#include <errno.h>
#include <poll.h>
#include <stddef.h>
#include <dirent.h>
#include <fcntl.h>
#include <stdlib.h>
#include <netinet/in.h>
#include <arpa/inet.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "netkit.h"

/* The Poller passes and reads the poll(2) bits; epoll uses the same values for them. */
_Static_assert(EPOLLIN == POLLIN && EPOLLOUT == POLLOUT && EPOLLERR == POLLERR &&
		       EPOLLHUP == POLLHUP,
	       "epoll's event bits are poll(2)'s");

int nk_close(int fd)
{
	/* Linux closes the fd even when close() reports EINTR: never retry. */
	if (close(fd) < 0 && errno != EINTR)
		return -errno;
	return 0;
}

int nk_read(int fd, uint8_t *buf, uint32_t len)
{
	ssize_t n;

	do
		n = read(fd, buf, len);
	while (n < 0 && errno == EINTR);
	return n < 0 ? -errno : (int)n;
}

int nk_write(int fd, const uint8_t *buf, uint32_t len)
{
	ssize_t n;

	do
		n = write(fd, buf, len);
	while (n < 0 && errno == EINTR);
	return n < 0 ? -errno : (int)n;
}

int nk_epoll_open(void)
{
	int fd = epoll_create1(EPOLL_CLOEXEC);

	return fd < 0 ? -errno : fd;
}

int nk_epoll_set(int epfd, int fd, uint32_t events)
{
	struct epoll_event ev = { .events = events, .data.fd = fd };

	/* MOD first: a number closed and reused since is no longer in the set (the kernel drops a
	 * file from every epoll set when it is closed), and is then added. */
	if (epoll_ctl(epfd, EPOLL_CTL_MOD, fd, &ev) == 0)
		return 0;
	if (errno != ENOENT)
		return -errno;
	return epoll_ctl(epfd, EPOLL_CTL_ADD, fd, &ev) < 0 ? -errno : 0;
}

int nk_epoll_del(int epfd, int fd)
{
	struct epoll_event ev = { 0 };

	/* Already gone (closed, or never added) is what was asked for. */
	if (epoll_ctl(epfd, EPOLL_CTL_DEL, fd, &ev) < 0 && errno != ENOENT && errno != EBADF)
		return -errno;
	return 0;
}

#define NK_EPOLL_BATCH 256

int nk_epoll_wait(int epfd, int32_t *out, uint32_t max, int32_t timeout_ms, int32_t settle_ms)
{
	struct epoll_event events[NK_EPOLL_BATCH];
	int n, i;

	if (max > NK_EPOLL_BATCH)
		max = NK_EPOLL_BATCH;
	n = epoll_wait(epfd, events, (int)max, timeout_ms);
	if (n < 0)
		return errno == EINTR ? 0 : -errno;
	if (n > 0 && settle_ms > 0) {
		/* Let more arrive before the caller is woken: one wake-up then reads many frames
		 * (what interrupt moderation does for a NIC). Level-triggered, so asking again
		 * returns everything ready by then. */
		struct timespec settle = { settle_ms / 1000, (long)(settle_ms % 1000) * 1000000L };

		while (nanosleep(&settle, &settle) < 0 && errno == EINTR)
			;
		n = epoll_wait(epfd, events, (int)max, 0);
		if (n < 0)
			return errno == EINTR ? 0 : -errno;
	}
	for (i = 0; i < n; i++) {
		out[2 * i] = events[i].data.fd;
		out[2 * i + 1] = (int32_t)events[i].events;
	}
	return n;
}

int nk_eventfd_open(void)
{
	int fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);

	return fd < 0 ? -errno : fd;
}

int nk_eventfd_signal(int fd)
{
	/* EAGAIN means the counter is already saturated: the poll will wake anyway. */
	if (eventfd_write(fd, 1) < 0 && errno != EAGAIN)
		return -errno;
	return 0;
}

int nk_eventfd_drain(int fd)
{
	eventfd_t value;

	if (eventfd_read(fd, &value) < 0)
		return errno == EAGAIN ? 0 : -errno;
	return value > 0x7fffffff ? 0x7fffffff : (int)value;
}

int nk_set_rcvbuf(int fd, uint32_t bytes)
{
	int size = bytes > 0x3fffffff ? 0x3fffffff : (int)bytes;
	socklen_t len = sizeof(size);

	/* SO_RCVBUFFORCE ignores net.core.rmem_max but needs CAP_NET_ADMIN. */
	if (setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &size, sizeof(size)) < 0 &&
	    setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &size, sizeof(size)) < 0)
		return -errno;
	if (getsockopt(fd, SOL_SOCKET, SO_RCVBUF, &size, &len) < 0)
		return -errno;
	return size;
}

int nk_udp_fd_by_port(uint16_t port)
{
	DIR *dir = opendir("/proc/self/fd");
	struct dirent *entry;
	int found = -ENOENT;

	/* Runtimes do not hand out their sockets' descriptors (Deno's QUIC does not): find it. */
	if (dir == NULL)
		return -errno;
	while (found < 0 && (entry = readdir(dir)) != NULL) {
		struct sockaddr_storage addr;
		socklen_t len = sizeof(addr);
		int fd = atoi(entry->d_name), type;
		socklen_t type_len = sizeof(type);
		uint16_t bound;

		if (entry->d_name[0] < '0' || entry->d_name[0] > '9' || fd == dirfd(dir))
			continue;
		if (getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &type_len) < 0 || type != SOCK_DGRAM ||
		    getsockname(fd, (struct sockaddr *)&addr, &len) < 0)
			continue;
		if (addr.ss_family == AF_INET)
			bound = ntohs(((struct sockaddr_in *)&addr)->sin_port);
		else if (addr.ss_family == AF_INET6)
			bound = ntohs(((struct sockaddr_in6 *)&addr)->sin6_port);
		else
			continue;
		if (bound == port)
			found = fd;
	}
	closedir(dir);
	return found;
}

int nk_stdio_to_devnull(void)
{
	struct stat std[3], st;
	int have[3], null_fd, rc = 0;
	DIR *dir;
	struct dirent *entry;

	for (int i = 0; i < 3; i++) {
		have[i] = fstat(i, &std[i]) == 0 &&
			  (S_ISFIFO(std[i].st_mode) || S_ISSOCK(std[i].st_mode) || S_ISCHR(std[i].st_mode));
	}
	null_fd = open("/dev/null", O_RDWR | O_CLOEXEC);
	if (null_fd < 0)
		return -errno;
	/*
	 * Runtimes keep duplicates of the standard streams (Deno does), and a parent waiting for
	 * end-of-file on our stderr pipe only gets it when every copy is gone: repoint them all.
	 */
	dir = opendir("/proc/self/fd");
	if (dir == NULL) {
		rc = -errno;
	} else {
		while ((entry = readdir(dir)) != NULL) {
			int fd = atoi(entry->d_name);

			if (entry->d_name[0] < '0' || entry->d_name[0] > '9' || fd < 3 || fd == null_fd ||
			    fd == dirfd(dir) || fstat(fd, &st) < 0)
				continue;
			for (int i = 0; i < 3; i++)
				if (have[i] && st.st_dev == std[i].st_dev && st.st_ino == std[i].st_ino &&
				    dup2(null_fd, fd) < 0 && rc == 0)
					rc = -errno;
		}
		closedir(dir);
	}
	for (int target = 0; target <= 2; target++)
		if (dup2(null_fd, target) < 0 && rc == 0)
			rc = -errno;
	close(null_fd);
	return rc;
}
