/*
 * libnetkit: the few things netkit's TypeScript cannot do safely itself.
 *
 * Rules (see docs/architecture.md): every function returns >= 0 on success or -errno on
 * failure; no threads, no callbacks, no global state; data moves through caller-owned
 * buffers whose layouts are fixed below and checked with _Static_assert.
 */
#ifndef NETKIT_H
#define NETKIT_H

#include <stdint.h>

#define NK_VERSION "0.1.0"

/* ---- info.c: version, layouts, errno names ---------------------------------------- */

const char *nk_version(void);
/* Offset (or size, for "struct.sizeof") of a field shared with TypeScript, -ENOENT if unknown. */
int nk_layout(const char *key);
/* glibc's errno name ("ENODEV"), or NULL when unknown. */
const char *nk_errno_name(int err);

/* ---- fd.c: plain descriptors, readiness, wakeups ---------------------------------- */

int nk_close(int fd);
/* read(2)/write(2): bytes moved; -EAGAIN when a nonblocking fd has nothing / no room. */
int nk_read(int fd, uint8_t *buf, uint32_t len);
int nk_write(int fd, const uint8_t *buf, uint32_t len);
/* epoll(7), level-triggered: a wait costs what is ready, not what is watched. `events` are the
 * poll(2) bits (EPOLLIN == POLLIN, ...). nk_epoll_set adds `fd` or changes its events;
 * nk_epoll_del of a descriptor not in the set (or closed) succeeds. nk_epoll_wait writes up to
 * `max` (at most 256) pairs {fd, events} of int32 to `out`; EINTR counts as a timeout. */
int nk_epoll_open(void);
int nk_epoll_set(int epfd, int fd, uint32_t events);
int nk_epoll_del(int epfd, int fd);
int nk_epoll_wait(int epfd, int32_t *out, uint32_t max, int32_t timeout_ms, int32_t settle_ms);
/* An eventfd used to wake a poll from the JS thread. */
int nk_eventfd_open(void);
int nk_eventfd_signal(int fd);
int nk_eventfd_drain(int fd);
/* SO_RCVBUF, forced past rmem_max when privileged. Returns the size the kernel granted. */
int nk_set_rcvbuf(int fd, uint32_t bytes);
/* The descriptor of this process's UDP socket bound to `port` (-ENOENT: none). */
int nk_udp_fd_by_port(uint16_t port);
/* Points stdin, stdout and stderr, and every duplicate of them that is a pipe, socket or terminal,
 * at /dev/null: a detached daemon's last step of startup. */
int nk_stdio_to_devnull(void);

/* ---- file.c: files written as root ---------------------------------------------- */

#define NK_OPEN_READ 0x01
#define NK_OPEN_WRITE 0x02
#define NK_OPEN_APPEND 0x04
#define NK_OPEN_CREATE 0x08    /* O_CREAT with `mode` */
#define NK_OPEN_EXCLUSIVE 0x10 /* O_CREAT|O_EXCL: only a new file (never through a link) */
#define NK_OPEN_DIRECTORY 0x20 /* O_DIRECTORY */

/* What fstat(2) says about the file just opened (32 bytes). */
struct nk_file_stat {
	uint64_t dev;
	uint64_t ino;
	uint32_t mode;  /* st_mode: type and permission bits */
	uint32_t uid;
	uint32_t gid;
	uint32_t nlink;
};

/*
 * open(2) with O_NOFOLLOW|O_CLOEXEC|O_NOCTTY|O_NONBLOCK and never O_TRUNC: a symbolic link as the
 * last component of `path` fails with -ELOOP. Fills `out` from fstat(2) of the opened file and
 * returns the fd, which the caller checks (type, owner, links) before using or closing it.
 */
int nk_file_open(const char *path, uint32_t flags, uint32_t mode, struct nk_file_stat *out);

/* ---- packet.c: AF_PACKET sockets ------------------------------------------------- */

/*
 * Per-frame metadata shared with TypeScript (40 bytes, little endian on the hosts we run on).
 * Receive fills it; batched send reads len and offset.
 */
struct nk_frame_meta {
	uint32_t len;       /* bytes of frame in the slot, starting at `offset` */
	uint32_t wire_len;  /* length the kernel had (> len when truncated) */
	uint32_t ifindex;   /* sll_ifindex */
	uint16_t protocol;  /* sll_protocol, host order */
	uint8_t pkttype;    /* sll_pkttype: PACKET_HOST, _BROADCAST, ..., _OUTGOING */
	uint8_t flags;      /* NK_FRAME_* */
	uint16_t vlan_tci;  /* valid when NK_FRAME_VLAN */
	uint16_t vlan_tpid; /* valid when NK_FRAME_VLAN */
	uint8_t src[6];     /* sll_addr: source MAC */
	uint16_t offset;    /* where the frame starts in its slot */
	uint16_t gso_size;  /* vnet sockets: payload bytes per segment of a GSO frame */
	uint8_t gso_type;   /* vnet sockets: VIRTIO_NET_HDR_GSO_* (0: an ordinary frame) */
	uint8_t reserved;
	/* vnet sockets, NK_FRAME_CSUM_PENDING: the checksum to complete covers the frame from
	 * csum_start (a tunnel's inner TCP/UDP header, maybe) and goes at csum_start + csum_offset */
	uint16_t csum_start;
	uint16_t csum_offset;
	uint32_t reserved2;
};

#define NK_FRAME_VLAN 0x01      /* the kernel had stripped a tag; it is back in the frame */
#define NK_FRAME_TRUNCATED 0x02 /* the slot was too small */
#define NK_FRAME_CSUM_PENDING 0x04 /* TP_STATUS_CSUMNOTREADY: the L4 checksum is not filled in */
/* A vnet socket's frame the kernel dropped (EINVAL) because a vnet header cannot describe its
 * GSO type (e.g. tunnel GSO): an empty slot that stands for it. */
#define NK_FRAME_UNDESCRIBED 0x08
#define NK_VLAN_HEADROOM 4      /* every receive slot keeps this much room for a tag */
#define NK_BATCH_MAX 256
/* sizeof(struct virtio_net_hdr): in front of every frame a vnet socket or TAP reads or writes */
#define NK_VNET_HDR_LEN 10

/*
 * `vnet`: PACKET_VNET_HDR, so GRO/TSO-merged frames come with their GSO type and segment size
 * (and every send carries a header too). The same `vnet` must then be passed to recv and send.
 */
int nk_packet_open(uint32_t ifindex, uint16_t ethertype, uint8_t vnet);
/*
 * A socket for `ethertype` frames that also sees tagged ones, tag intact in PACKET_AUXDATA (a
 * socket bound to one EtherType only gets them after the kernel has cleared the tag). Frames this
 * host sends are not seen. Receive with vnet 0.
 */
int nk_packet_open_tagged(uint32_t ifindex, uint16_t ethertype);
/* PACKET_ADD/DROP_MEMBERSHIP: type is PACKET_MR_MULTICAST (mac required) or _PROMISC/_ALLMULTI. */
int nk_packet_membership(int fd, uint32_t ifindex, uint16_t type, const uint8_t *mac, uint8_t add);
/* Receive one frame into a slot of `slot_size` bytes (same layout as a batch slot). 0: none ready. */
int nk_packet_recv(int fd, uint8_t *slot, uint32_t slot_size, struct nk_frame_meta *meta,
		   uint8_t vnet);
/* Receive up to `count` frames (one recvmmsg) into slots of `slot_size` bytes. 0: none ready. */
int nk_packet_recv_batch(int fd, uint8_t *slots, uint32_t slot_size, uint32_t count,
			 struct nk_frame_meta *meta, uint8_t vnet);
int nk_packet_send(int fd, const uint8_t *frame, uint32_t len, uint8_t vnet);
/* Send `count` frames (one sendmmsg) described by meta[i].len/offset. Returns frames sent. */
int nk_packet_send_batch(int fd, const uint8_t *slots, uint32_t slot_size, uint32_t count,
			 const struct nk_frame_meta *meta, uint8_t vnet);
/* PACKET_STATISTICS (reading resets them): out[0] packets, out[1] drops. */
int nk_packet_stats(int fd, uint32_t *out);
/* PACKET_IGNORE_OUTGOING (Linux 4.20): frames sent on the interface are not queued to `fd`. */
int nk_packet_ignore_outgoing(int fd);

/* ---- iface.c: interfaces by ioctl ------------------------------------------------ */

struct nk_iface_info {
	uint32_t ifindex;
	uint32_t flags; /* SIOCGIFFLAGS (16 bits: IFF_LOWER_UP is not visible here) */
	uint32_t mtu;
	uint16_t type;  /* ARPHRD_* from SIOCGIFHWADDR */
	uint8_t mac[6];
};

int nk_iface_info(const char *name, struct nk_iface_info *out);
/* Writes the NUL-terminated name (IFNAMSIZ bytes) of `ifindex` into `out`. */
int nk_iface_name(uint32_t ifindex, char *out);
int nk_iface_set_mtu(const char *name, uint32_t mtu);
int nk_iface_set_mac(const char *name, const uint8_t *mac);
int nk_iface_set_up(const char *name, uint8_t up);

/* ---- netlink.c: rtnetlink socket -------------------------------------------------- */

/* NETLINK_ROUTE socket bound to the RTMGRP_* bitmask `groups`; rcvbuf 0 keeps the default. */
int nk_netlink_open(uint32_t groups, uint32_t rcvbuf);

/* ---- mroute.c: multicast routing sockets ------------------------------------------- */

/*
 * A nonblocking, close-on-exec raw socket for multicast routing: family 4 is AF_INET/IPPROTO_IGMP
 * (setsockopt level IPPROTO_IP), 6 is AF_INET6/IPPROTO_ICMPV6 (level IPPROTO_IPV6, with every
 * ICMPv6 type filtered out so that only upcalls are queued). `table` 0 keeps the default table,
 * otherwise MRT_TABLE selects it. With `owner`, MRT_INIT makes the socket the table's router
 * (-EADDRINUSE when another socket is) and MRT_ASSERT=1, MRT_PIM=0 are set, since the table keeps
 * whatever an earlier owner left. Without `owner` the socket can still change the table with
 * CAP_NET_ADMIN; what it installs is static and survives the owner. rcvbuf 0 keeps the default.
 */
int nk_mroute_open(uint8_t family, uint32_t table, uint8_t owner, uint32_t rcvbuf);
/* setsockopt(2) with a caller-built value. */
int nk_sockopt_set(int fd, int level, int name, const uint8_t *buf, uint32_t len);
/*
 * One setsockopt(2) per record of `record_len` bytes at `records` (e.g. thousands of
 * MRT_ADD_MFC). errnos[i] is set to 0 or the record's errno (errnos may be NULL). Returns how
 * many succeeded; a failure does not stop the batch.
 */
int nk_sockopt_set_batch(int fd, int level, int name, const uint8_t *records, uint32_t record_len,
			 uint32_t count, int32_t *errnos);
/* ioctl(2) whose argument is a caller-owned struct (SIOCGETSGCNT, SIOCGETVIFCNT, ...). */
int nk_ioctl_buf(int fd, uint32_t request, uint8_t *buf);

/* ---- netns.c ----------------------------------------------------------------------- */

/* setns(2) the calling thread into the network namespace at `path` (/run/netns/NAME). */
int nk_netns_enter(const char *path);
/* An fd for the calling thread's network namespace (to come back to it later). */
int nk_netns_current(void);
/* setns(2) the calling thread into the namespace `fd` refers to. */
int nk_netns_set(int fd);
/* unshare(2) the calling thread into a new, empty network namespace (gone once unreferenced). */
int nk_netns_unshare(void);

/* ---- tap.c ------------------------------------------------------------------------- */

/* Create or attach TAP `name` (empty: kernel picks) with IFF_TAP|IFF_NO_PI; the final
 * name is written to `name_out` (IFNAMSIZ bytes). Returns the nonblocking fd.
 * `offloads` != 0: IFF_VNET_HDR too, and TUNSETOFFLOAD with those TUN_F_* bits, so the stack
 * may hand over TSO/USO frames and partial checksums; every read and write then starts with a
 * NK_VNET_HDR_LEN header. Offload bits the kernel does not know are dropped one by one. */
int nk_tap_open(const char *name, char *name_out, uint32_t offloads);
/* Create or attach TUN `name` with IFF_TUN|IFF_NO_PI (each read or write is one IP packet);
 * otherwise as nk_tap_open without offloads. */
int nk_tun_open(const char *name, char *name_out);
/* Up to `count` read(2)s of a TAP or TUN fd, frame i into slots + i * slot_size + headroom (room
 * to prepend a header in place); meta[i].len and .offset are set. Stops at EAGAIN. Returns the
 * frames read (0: none queued), or -errno when the first read fails otherwise. */
int nk_tap_read_batch(int fd, uint8_t *slots, uint32_t slot_size, uint32_t headroom,
		      uint32_t count, struct nk_frame_meta *meta);
/* Up to `count` write(2)s of meta[i].len bytes at slot i + meta[i].offset; stops at EAGAIN.
 * Returns the frames handled (written, or failed otherwise: counted in *failed, e.g. EIO while
 * the interface is down), so the caller retries from there after EAGAIN. */
int nk_tap_write_batch(int fd, const uint8_t *slots, uint32_t slot_size, uint32_t count,
		       const struct nk_frame_meta *meta, uint32_t *failed);
/* write(2) of one frame behind an all-zero vnet header (no GSO, checksum complete). */
int nk_tap_write_vnet(int fd, const uint8_t *frame, uint32_t len);
/* 0 when /dev/net/tun can be opened. */
int nk_tun_probe(void);

/* ---- hugebuf.c --------------------------------------------------------------------- */

#define NK_BACKING_HUGETLB 1 /* MAP_HUGETLB, 2 MiB pages */
#define NK_BACKING_THP 2     /* normal mapping, MADV_HUGEPAGE accepted */
#define NK_BACKING_NORMAL 3  /* normal pages */

struct nk_hugebuf {
	uint64_t addr;
	uint64_t len; /* rounded up to 2 MiB */
	uint32_t backing;
	uint32_t reserved;
};

int nk_hugebuf_map(uint64_t size, struct nk_hugebuf *out);
int nk_hugebuf_unmap(uint64_t addr, uint64_t len);

#endif
