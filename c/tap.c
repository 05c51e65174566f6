/* TAP devices through /dev/net/tun. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <linux/if_tun.h>
#include <net/if.h>
#include <string.h>
#include <linux/virtio_net.h>
#include <sys/ioctl.h>
#include <sys/uio.h>
#include <unistd.h>

#include "netkit.h"

_Static_assert(TUNSETIFF == 0x400454ca, "TUNSETIFF value");

/* UDP segmentation offload (Linux 6.2); older headers lack the names. */
#ifndef TUN_F_USO4
#define TUN_F_USO4 0x20
#define TUN_F_USO6 0x40
#endif

/*
 * Offers the offloads in `offloads`, dropping the bits an older kernel refuses (USO came in
 * 6.2), highest first: TSO without CSUM is never offered (the kernel refuses it).
 */
static int set_offloads(int fd, uint32_t offloads)
{
	static const uint32_t optional[] = { TUN_F_USO6, TUN_F_USO4, TUN_F_TSO_ECN };

	for (size_t i = 0;; i++) {
		if (ioctl(fd, TUNSETOFFLOAD, (unsigned long)offloads) == 0)
			return 0;
		if (errno != EINVAL || i == sizeof(optional) / sizeof(optional[0]))
			return -errno;
		offloads &= ~optional[i];
	}
}

/* open + TUNSETIFF with `flags`; the kernel's final name goes to `name_out`. */
static int open_tun_device(const char *name, char *name_out, short flags)
{
	struct ifreq ifr;
	int fd, err;

	if (strlen(name) >= IFNAMSIZ)
		return -ENAMETOOLONG;
	fd = open("/dev/net/tun", O_RDWR | O_NONBLOCK | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	memset(&ifr, 0, sizeof(ifr));
	ifr.ifr_flags = flags;
	strncpy(ifr.ifr_name, name, IFNAMSIZ - 1);
	if (ioctl(fd, TUNSETIFF, &ifr) < 0) {
		err = -errno;
		close(fd);
		return err;
	}
	memcpy(name_out, ifr.ifr_name, IFNAMSIZ);
	name_out[IFNAMSIZ - 1] = '\0';
	return fd;
}

int nk_tap_open(const char *name, char *name_out, uint32_t offloads)
{
	int fd, err;

	fd = open_tun_device(name, name_out, IFF_TAP | IFF_NO_PI | (offloads ? IFF_VNET_HDR : 0));
	if (fd >= 0 && offloads && (err = set_offloads(fd, offloads)) < 0) {
		close(fd);
		return err;
	}
	return fd;
}

int nk_tun_open(const char *name, char *name_out)
{
	return open_tun_device(name, name_out, IFF_TUN | IFF_NO_PI);
}

int nk_tap_read_batch(int fd, uint8_t *slots, uint32_t slot_size, uint32_t headroom,
		      uint32_t count, struct nk_frame_meta *meta)
{
	uint32_t i;
	ssize_t n;

	if (count > NK_BATCH_MAX || headroom >= slot_size)
		return -EINVAL;
	for (i = 0; i < count; i++) {
		do
			n = read(fd, slots + (size_t)i * slot_size + headroom, slot_size - headroom);
		while (n < 0 && errno == EINTR);
		if (n < 0) {
			if (errno == EAGAIN || i > 0)
				break;
			return -errno;
		}
		memset(&meta[i], 0, sizeof(meta[i]));
		meta[i].len = (uint32_t)n;
		meta[i].wire_len = (uint32_t)n;
		meta[i].offset = (uint16_t)headroom;
	}
	return (int)i;
}

int nk_tap_write_batch(int fd, const uint8_t *slots, uint32_t slot_size, uint32_t count,
		       const struct nk_frame_meta *meta, uint32_t *failed)
{
	uint32_t i;
	ssize_t n;

	if (count > NK_BATCH_MAX)
		return -EINVAL;
	*failed = 0;
	for (i = 0; i < count; i++) {
		if ((uint32_t)meta[i].offset + meta[i].len > slot_size)
			return -EINVAL;
		do
			n = write(fd, slots + (size_t)i * slot_size + meta[i].offset, meta[i].len);
		while (n < 0 && errno == EINTR);
		if (n < 0 && errno == EAGAIN)
			break;
		if (n < 0)
			(*failed)++;
	}
	return (int)i;
}

int nk_tun_probe(void)
{
	int fd = open("/dev/net/tun", O_RDWR | O_CLOEXEC);

	if (fd < 0)
		return -errno;
	close(fd);
	return 0;
}

int nk_tap_write_vnet(int fd, const uint8_t *frame, uint32_t len)
{
	static const struct virtio_net_hdr no_offload;
	struct iovec iov[2] = {
		{ .iov_base = (void *)&no_offload, .iov_len = sizeof(no_offload) },
		{ .iov_base = (void *)frame, .iov_len = len },
	};
	ssize_t n;

	do
		n = writev(fd, iov, 2);
	while (n < 0 && errno == EINTR);
	return n < 0 ? -errno : (int)n - NK_VNET_HDR_LEN;
}
