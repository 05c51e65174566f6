/* Interfaces by ioctl: index, hardware address and type, flags, MTU; TAP setup helpers. */
#define _GNU_SOURCE
#include <errno.h>
#include <net/if.h>
#include <net/if_arp.h>
#include <stddef.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include "netkit.h"

_Static_assert(sizeof(struct ifreq) == 40, "struct ifreq is 40 bytes");
_Static_assert(IFNAMSIZ == 16, "IFNAMSIZ is 16");
_Static_assert(sizeof(struct nk_iface_info) == 20, "nk_iface_info is 20 bytes");
_Static_assert(offsetof(struct nk_iface_info, type) == 12, "nk_iface_info.type at 12");
_Static_assert(offsetof(struct nk_iface_info, mac) == 14, "nk_iface_info.mac at 14");

/*
 * Interface ioctls work on any socket and act in the socket's network namespace, which is
 * the calling thread's at creation: a fresh AF_UNIX socket per call is always right.
 */
static int ifreq_ioctl(const char *name, unsigned long request, struct ifreq *ifr)
{
	int fd, rc = 0;

	if (name != NULL) {
		if (strlen(name) >= IFNAMSIZ)
			return -ENAMETOOLONG;
		strncpy(ifr->ifr_name, name, IFNAMSIZ - 1);
	}
	fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	if (ioctl(fd, request, ifr) < 0)
		rc = -errno;
	close(fd);
	return rc;
}

int nk_iface_info(const char *name, struct nk_iface_info *out)
{
	struct ifreq ifr;
	int rc;

	memset(out, 0, sizeof(*out));
	memset(&ifr, 0, sizeof(ifr));
	if ((rc = ifreq_ioctl(name, SIOCGIFINDEX, &ifr)) < 0)
		return rc;
	out->ifindex = (uint32_t)ifr.ifr_ifindex;
	if ((rc = ifreq_ioctl(name, SIOCGIFFLAGS, &ifr)) < 0)
		return rc;
	out->flags = (uint16_t)ifr.ifr_flags;
	if ((rc = ifreq_ioctl(name, SIOCGIFMTU, &ifr)) < 0)
		return rc;
	out->mtu = (uint32_t)ifr.ifr_mtu;
	if ((rc = ifreq_ioctl(name, SIOCGIFHWADDR, &ifr)) < 0)
		return rc;
	out->type = ifr.ifr_hwaddr.sa_family;
	memcpy(out->mac, ifr.ifr_hwaddr.sa_data, 6);
	return 0;
}

int nk_iface_name(uint32_t ifindex, char *out)
{
	struct ifreq ifr;
	int rc;

	memset(&ifr, 0, sizeof(ifr));
	ifr.ifr_ifindex = (int)ifindex;
	if ((rc = ifreq_ioctl(NULL, SIOCGIFNAME, &ifr)) < 0)
		return rc;
	memcpy(out, ifr.ifr_name, IFNAMSIZ);
	out[IFNAMSIZ - 1] = '\0';
	return 0;
}

int nk_iface_set_mtu(const char *name, uint32_t mtu)
{
	struct ifreq ifr;

	memset(&ifr, 0, sizeof(ifr));
	ifr.ifr_mtu = (int)mtu;
	return ifreq_ioctl(name, SIOCSIFMTU, &ifr);
}

int nk_iface_set_mac(const char *name, const uint8_t *mac)
{
	struct ifreq ifr;

	memset(&ifr, 0, sizeof(ifr));
	ifr.ifr_hwaddr.sa_family = ARPHRD_ETHER;
	memcpy(ifr.ifr_hwaddr.sa_data, mac, 6);
	return ifreq_ioctl(name, SIOCSIFHWADDR, &ifr);
}

int nk_iface_set_up(const char *name, uint8_t up)
{
	struct ifreq ifr;
	int rc;

	memset(&ifr, 0, sizeof(ifr));
	if ((rc = ifreq_ioctl(name, SIOCGIFFLAGS, &ifr)) < 0)
		return rc;
	if (up)
		ifr.ifr_flags |= IFF_UP;
	else
		ifr.ifr_flags &= ~IFF_UP;
	return ifreq_ioctl(name, SIOCSIFFLAGS, &ifr);
}
