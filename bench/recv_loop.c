/*
 * Baseline for bench/packet_io.ts: the classic C receive loop, one recvfrom(2) per frame with
 * its sockaddr_ll, as a tool written directly in C would do it. Not part of libnetkit.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <linux/if_packet.h>
#include <stdint.h>
#include <sys/socket.h>

/* Receives until the queue is empty or `max` frames; returns the count or -errno. */
int nkb_recv_loop(int fd, uint8_t *buf, uint32_t len, uint32_t max, uint64_t *bytes)
{
	struct sockaddr_ll sll;
	uint32_t count = 0;

	*bytes = 0;
	while (count < max) {
		socklen_t sl = sizeof(sll);
		ssize_t n = recvfrom(fd, buf, len, MSG_DONTWAIT, (struct sockaddr *)&sll, &sl);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN)
				break;
			return -errno;
		}
		count++;
		*bytes += (uint64_t)n + sll.sll_pkttype;
	}
	return (int)count;
}
