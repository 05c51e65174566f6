/*
 * Multicast routing sockets (IPv4 ipmr and IPv6 ip6mr). TypeScript builds the kernel structs as
 * bytes (lib/net/mroute_structs.ts); this file opens the socket, passes the bytes to setsockopt and
 * ioctl, and checks at compile time that the layouts TypeScript writes are the kernel's.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <netinet/icmp6.h>
#include <netinet/in.h>
#include <stddef.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <linux/mroute.h>
#include <linux/mroute6.h>
#include <linux/rtnetlink.h>

#include "netkit.h"

/* Option numbers are shared by both families; the code below relies on it. */
_Static_assert(MRT_INIT == 200 && MRT6_INIT == 200, "MRT_INIT is 200");
_Static_assert(MRT_TABLE == 209 && MRT6_TABLE == 209, "MRT_TABLE is 209");
_Static_assert(MRT_ASSERT == 207 && MRT6_ASSERT == 207, "MRT_ASSERT is 207");
_Static_assert(MRT_PIM == 208 && MRT6_PIM == 208, "MRT_PIM is 208");
_Static_assert(MRT_FLUSH == 212 && MRT6_FLUSH == 212, "MRT_FLUSH is 212");
_Static_assert(SIOCGETVIFCNT == 0x89e0 && SIOCGETMIFCNT_IN6 == 0x89e0, "SIOCGETVIFCNT");
_Static_assert(SIOCGETSGCNT == 0x89e1 && SIOCGETSGCNT_IN6 == 0x89e1, "SIOCGETSGCNT");
_Static_assert(MAXVIFS == 32 && MAXMIFS == 32, "32 VIFs per table");

/* struct vifctl: MRT_ADD_VIF / MRT_DEL_VIF (the kernel wants exactly 16 bytes for both). */
_Static_assert(sizeof(struct vifctl) == 16, "vifctl is 16 bytes");
_Static_assert(offsetof(struct vifctl, vifc_vifi) == 0, "vifctl.vifc_vifi at 0");
_Static_assert(offsetof(struct vifctl, vifc_flags) == 2, "vifctl.vifc_flags at 2");
_Static_assert(offsetof(struct vifctl, vifc_threshold) == 3, "vifctl.vifc_threshold at 3");
_Static_assert(offsetof(struct vifctl, vifc_rate_limit) == 4, "vifctl.vifc_rate_limit at 4");
_Static_assert(offsetof(struct vifctl, vifc_lcl_ifindex) == 8, "vifctl.vifc_lcl_ifindex at 8");
_Static_assert(offsetof(struct vifctl, vifc_rmt_addr) == 12, "vifctl.vifc_rmt_addr at 12");

/* struct mfcctl: 60 bytes, two padding bytes at 42 after the TTL vector. */
_Static_assert(sizeof(struct mfcctl) == 60, "mfcctl is 60 bytes");
_Static_assert(offsetof(struct mfcctl, mfcc_origin) == 0, "mfcctl.mfcc_origin at 0");
_Static_assert(offsetof(struct mfcctl, mfcc_mcastgrp) == 4, "mfcctl.mfcc_mcastgrp at 4");
_Static_assert(offsetof(struct mfcctl, mfcc_parent) == 8, "mfcctl.mfcc_parent at 8");
_Static_assert(offsetof(struct mfcctl, mfcc_ttls) == 10, "mfcctl.mfcc_ttls at 10");
_Static_assert(sizeof(((struct mfcctl *)0)->mfcc_ttls) == 32, "mfcctl.mfcc_ttls is 32 bytes");
_Static_assert(offsetof(struct mfcctl, mfcc_pkt_cnt) == 44, "mfcctl: 2 padding bytes at 42");
_Static_assert(offsetof(struct mfcctl, mfcc_expire) == 56, "mfcctl.mfcc_expire at 56");

/* struct mif6ctl: MRT6_ADD_MIF (MRT6_DEL_MIF takes a bare 2-byte mifi_t). */
_Static_assert(sizeof(struct mif6ctl) == 12, "mif6ctl is 12 bytes");
_Static_assert(offsetof(struct mif6ctl, mif6c_mifi) == 0, "mif6ctl.mif6c_mifi at 0");
_Static_assert(offsetof(struct mif6ctl, mif6c_flags) == 2, "mif6ctl.mif6c_flags at 2");
_Static_assert(offsetof(struct mif6ctl, vifc_threshold) == 3, "mif6ctl.vifc_threshold at 3");
_Static_assert(offsetof(struct mif6ctl, mif6c_pifi) == 4, "mif6ctl.mif6c_pifi at 4");
_Static_assert(offsetof(struct mif6ctl, vifc_rate_limit) == 8, "mif6ctl.vifc_rate_limit at 8");
_Static_assert(sizeof(mifi_t) == 2, "mifi_t is 2 bytes");

/* struct sockaddr_in6 inside mf6cctl and sioc_sg_req6. */
_Static_assert(sizeof(struct sockaddr_in6) == 28, "sockaddr_in6 is 28 bytes");
_Static_assert(offsetof(struct sockaddr_in6, sin6_family) == 0, "sin6_family at 0");
_Static_assert(offsetof(struct sockaddr_in6, sin6_addr) == 8, "sin6_addr at 8");

/* struct mf6cctl: 92 bytes, two padding bytes at 58, the if_set bitmap at 60. */
_Static_assert(sizeof(struct mf6cctl) == 92, "mf6cctl is 92 bytes");
_Static_assert(offsetof(struct mf6cctl, mf6cc_origin) == 0, "mf6cctl.mf6cc_origin at 0");
_Static_assert(offsetof(struct mf6cctl, mf6cc_mcastgrp) == 28, "mf6cctl.mf6cc_mcastgrp at 28");
_Static_assert(offsetof(struct mf6cctl, mf6cc_parent) == 56, "mf6cctl.mf6cc_parent at 56");
_Static_assert(offsetof(struct mf6cctl, mf6cc_ifset) == 60, "mf6cctl: 2 padding bytes at 58");
_Static_assert(sizeof(struct if_set) == 32, "if_set is 8 x u32");

/* Counter ioctls: the counters are unsigned long, 8 bytes on the LP64 hosts netkit runs on. */
_Static_assert(sizeof(unsigned long) == 8, "LP64: counters are 8 bytes");
_Static_assert(sizeof(struct sioc_sg_req) == 32, "sioc_sg_req is 32 bytes");
_Static_assert(offsetof(struct sioc_sg_req, src) == 0, "sioc_sg_req.src at 0");
_Static_assert(offsetof(struct sioc_sg_req, grp) == 4, "sioc_sg_req.grp at 4");
_Static_assert(offsetof(struct sioc_sg_req, pktcnt) == 8, "sioc_sg_req.pktcnt at 8");
_Static_assert(offsetof(struct sioc_sg_req, bytecnt) == 16, "sioc_sg_req.bytecnt at 16");
_Static_assert(offsetof(struct sioc_sg_req, wrong_if) == 24, "sioc_sg_req.wrong_if at 24");
_Static_assert(sizeof(struct sioc_vif_req) == 40, "sioc_vif_req is 40 bytes");
_Static_assert(offsetof(struct sioc_vif_req, vifi) == 0, "sioc_vif_req.vifi at 0");
_Static_assert(offsetof(struct sioc_vif_req, icount) == 8, "sioc_vif_req.icount at 8");
_Static_assert(offsetof(struct sioc_vif_req, ocount) == 16, "sioc_vif_req.ocount at 16");
_Static_assert(offsetof(struct sioc_vif_req, ibytes) == 24, "sioc_vif_req.ibytes at 24");
_Static_assert(offsetof(struct sioc_vif_req, obytes) == 32, "sioc_vif_req.obytes at 32");
_Static_assert(sizeof(struct sioc_sg_req6) == 80, "sioc_sg_req6 is 80 bytes");
_Static_assert(offsetof(struct sioc_sg_req6, src) == 0, "sioc_sg_req6.src at 0");
_Static_assert(offsetof(struct sioc_sg_req6, grp) == 28, "sioc_sg_req6.grp at 28");
_Static_assert(offsetof(struct sioc_sg_req6, pktcnt) == 56, "sioc_sg_req6.pktcnt at 56");
_Static_assert(offsetof(struct sioc_sg_req6, bytecnt) == 64, "sioc_sg_req6.bytecnt at 64");
_Static_assert(offsetof(struct sioc_sg_req6, wrong_if) == 72, "sioc_sg_req6.wrong_if at 72");
_Static_assert(sizeof(struct sioc_mif_req6) == 40, "sioc_mif_req6 is 40 bytes");
_Static_assert(offsetof(struct sioc_mif_req6, mifi) == 0, "sioc_mif_req6.mifi at 0");
_Static_assert(offsetof(struct sioc_mif_req6, icount) == 8, "sioc_mif_req6.icount at 8");
_Static_assert(offsetof(struct sioc_mif_req6, ocount) == 16, "sioc_mif_req6.ocount at 16");
_Static_assert(offsetof(struct sioc_mif_req6, ibytes) == 24, "sioc_mif_req6.ibytes at 24");
_Static_assert(offsetof(struct sioc_mif_req6, obytes) == 32, "sioc_mif_req6.obytes at 32");

/* Upcalls: igmpmsg overlays an IPv4 header; mrt6msg is the payload of an ICMPv6 raw read. */
_Static_assert(sizeof(struct igmpmsg) == 20, "igmpmsg is 20 bytes");
_Static_assert(offsetof(struct igmpmsg, im_msgtype) == 8, "igmpmsg.im_msgtype at 8 (TTL)");
_Static_assert(offsetof(struct igmpmsg, im_mbz) == 9, "igmpmsg.im_mbz at 9 (protocol)");
_Static_assert(offsetof(struct igmpmsg, im_vif) == 10, "igmpmsg.im_vif at 10");
_Static_assert(offsetof(struct igmpmsg, im_vif_hi) == 11, "igmpmsg.im_vif_hi at 11");
_Static_assert(offsetof(struct igmpmsg, im_src) == 12, "igmpmsg.im_src at 12");
_Static_assert(offsetof(struct igmpmsg, im_dst) == 16, "igmpmsg.im_dst at 16");
_Static_assert(sizeof(struct mrt6msg) == 40, "mrt6msg is 40 bytes");
_Static_assert(offsetof(struct mrt6msg, im6_mbz) == 0, "mrt6msg.im6_mbz at 0");
_Static_assert(offsetof(struct mrt6msg, im6_msgtype) == 1, "mrt6msg.im6_msgtype at 1");
_Static_assert(offsetof(struct mrt6msg, im6_mif) == 2, "mrt6msg.im6_mif at 2");
_Static_assert(offsetof(struct mrt6msg, im6_src) == 8, "mrt6msg.im6_src at 8");
_Static_assert(offsetof(struct mrt6msg, im6_dst) == 24, "mrt6msg.im6_dst at 24");

/* What TypeScript reads from the RTM_GETROUTE dump of families 128/129 (kernel_netlink.ts). */
_Static_assert(RTNL_FAMILY_IPMR == 128 && RTNL_FAMILY_IP6MR == 129, "ipmr rtnetlink families");
_Static_assert(sizeof(struct rtmsg) == 12, "rtmsg is 12 bytes");
_Static_assert(offsetof(struct rtmsg, rtm_table) == 4, "rtmsg.rtm_table at 4");
_Static_assert(offsetof(struct rtmsg, rtm_protocol) == 5, "rtmsg.rtm_protocol at 5");
_Static_assert(offsetof(struct rtmsg, rtm_flags) == 8, "rtmsg.rtm_flags at 8");
_Static_assert(sizeof(struct rtnexthop) == 8, "rtnexthop is 8 bytes");
_Static_assert(offsetof(struct rtnexthop, rtnh_hops) == 3, "rtnexthop.rtnh_hops at 3");
_Static_assert(offsetof(struct rtnexthop, rtnh_ifindex) == 4, "rtnexthop.rtnh_ifindex at 4");
_Static_assert(sizeof(struct rta_mfc_stats) == 24, "rta_mfc_stats is 24 bytes");

static int set_int(int fd, int level, int name, int value)
{
	return setsockopt(fd, level, name, &value, sizeof(value)) < 0 ? -errno : 0;
}

/* Steps of opening an owner socket, in the order the kernel needs them. */
static int mroute_setup(int fd, int level, uint8_t family, uint32_t table, uint8_t owner,
			uint32_t rcvbuf)
{
	int rc;

	if (family == 6) {
		/*
		 * The raw ICMPv6 socket would also queue every ICMPv6 message the host receives
		 * (neighbour discovery, MLD). Upcalls are queued to the socket directly and do not
		 * pass this filter, so blocking every type leaves exactly the upcalls.
		 */
		struct icmp6_filter filter;

		ICMP6_FILTER_SETBLOCKALL(&filter);
		if (setsockopt(fd, IPPROTO_ICMPV6, ICMP6_FILTER, &filter, sizeof(filter)) < 0)
			return -errno;
	}
	/* MRT_TABLE must come before MRT_INIT (EBUSY after); 0 keeps the default table. */
	if (table != 0 && setsockopt(fd, level, MRT_TABLE, &table, sizeof(table)) < 0)
		return -errno;
	if (rcvbuf > 0) {
		rc = nk_set_rcvbuf(fd, rcvbuf);
		if (rc < 0)
			return rc;
	}
	if (!owner)
		return 0;
	rc = set_int(fd, level, MRT_INIT, 1);
	if (rc < 0)
		return rc;
	/*
	 * The table outlives its sockets and keeps the flags an earlier owner set: set both.
	 * ASSERT on asks for WRONGVIF upcalls. PIM off is what a kernel without PIM support has
	 * anyway, so ENOPROTOOPT there is success.
	 */
	rc = set_int(fd, level, MRT_ASSERT, 1);
	if (rc < 0)
		return rc;
	rc = set_int(fd, level, MRT_PIM, 0);
	return rc == -ENOPROTOOPT ? 0 : rc;
}

int nk_mroute_open(uint8_t family, uint32_t table, uint8_t owner, uint32_t rcvbuf)
{
	int domain, protocol, level, fd, rc;

	if (family == 4) {
		domain = AF_INET;
		protocol = IPPROTO_IGMP;
		level = IPPROTO_IP;
	} else if (family == 6) {
		domain = AF_INET6;
		protocol = IPPROTO_ICMPV6;
		level = IPPROTO_IPV6;
	} else {
		return -EAFNOSUPPORT;
	}
	fd = socket(domain, SOCK_RAW | SOCK_NONBLOCK | SOCK_CLOEXEC, protocol);
	if (fd < 0)
		return -errno;
	rc = mroute_setup(fd, level, family, table, owner, rcvbuf);
	if (rc < 0) {
		/* Closing an owner socket undoes MRT_INIT. */
		close(fd);
		return rc;
	}
	return fd;
}

int nk_sockopt_set(int fd, int level, int name, const uint8_t *buf, uint32_t len)
{
	return setsockopt(fd, level, name, buf, len) < 0 ? -errno : 0;
}

int nk_sockopt_set_batch(int fd, int level, int name, const uint8_t *records, uint32_t record_len,
			 uint32_t count, int32_t *errnos)
{
	uint32_t done = 0;

	if (count > 0x7fffffff)
		return -EINVAL;
	for (uint32_t i = 0; i < count; i++) {
		int err = 0;

		if (setsockopt(fd, level, name, records + (size_t)i * record_len, record_len) < 0)
			err = errno;
		else
			done++;
		if (errnos != NULL)
			errnos[i] = err;
	}
	return (int)done;
}

int nk_ioctl_buf(int fd, uint32_t request, uint8_t *buf)
{
	int rc = ioctl(fd, (unsigned long)request, buf);

	return rc < 0 ? -errno : rc;
}
