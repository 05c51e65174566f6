/* AF_PACKET sockets: open, memberships, batched receive and send. */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <linux/filter.h>
#include <linux/if_packet.h>
#include <linux/virtio_net.h>
#include <net/ethernet.h>
#include <stddef.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include "netkit.h"

_Static_assert(sizeof(struct sockaddr_ll) == 20, "sockaddr_ll is 20 bytes");
_Static_assert(offsetof(struct sockaddr_ll, sll_protocol) == 2, "sll_protocol at 2");
_Static_assert(offsetof(struct sockaddr_ll, sll_ifindex) == 4, "sll_ifindex at 4");
_Static_assert(offsetof(struct sockaddr_ll, sll_pkttype) == 10, "sll_pkttype at 10");
_Static_assert(offsetof(struct sockaddr_ll, sll_addr) == 12, "sll_addr at 12");
_Static_assert(sizeof(struct packet_mreq) == 16, "packet_mreq is 16 bytes");
_Static_assert(offsetof(struct packet_mreq, mr_address) == 8, "mr_address at 8");
_Static_assert(sizeof(struct tpacket_auxdata) == 20, "tpacket_auxdata is 20 bytes");
_Static_assert(sizeof(struct tpacket_stats) == 8, "tpacket_stats is 8 bytes");
_Static_assert(sizeof(struct mmsghdr) == 64, "mmsghdr is 64 bytes");
_Static_assert(sizeof(struct nk_frame_meta) == 40, "nk_frame_meta is 40 bytes");
_Static_assert(offsetof(struct nk_frame_meta, vlan_tci) == 16, "nk_frame_meta.vlan_tci at 16");
_Static_assert(offsetof(struct nk_frame_meta, src) == 20, "nk_frame_meta.src at 20");
_Static_assert(offsetof(struct nk_frame_meta, offset) == 26, "nk_frame_meta.offset at 26");
_Static_assert(offsetof(struct nk_frame_meta, gso_size) == 28, "nk_frame_meta.gso_size at 28");
_Static_assert(offsetof(struct nk_frame_meta, gso_type) == 30, "nk_frame_meta.gso_type at 30");
_Static_assert(offsetof(struct nk_frame_meta, csum_start) == 32, "nk_frame_meta.csum_start at 32");
_Static_assert(sizeof(struct virtio_net_hdr) == NK_VNET_HDR_LEN, "virtio_net_hdr is 10 bytes");

/* The header of every frame a vnet socket sends: no GSO, checksum complete. */
static const struct virtio_net_hdr no_offload;

#define MAC_PAIR_LEN 12 /* destination + source MAC: a VLAN tag goes right after them */

/* Closes `fd` after a failed call and returns that call's -errno. */
static int close_failed(int fd)
{
	int err = errno;

	close(fd);
	return -err;
}

/*
 * An AF_PACKET socket with auxdata (the kernel strips 802.1Q tags before packet taps see them;
 * auxdata gives them back), not bound yet. Protocol 0 at socket() receives nothing: frames only
 * start to queue once bind_socket() has set both the protocol and the interface, so no frame from
 * another interface slips in, and options set in between apply to every frame.
 */
static int unbound_socket(void)
{
	int one = 1;
	int fd = socket(AF_PACKET, SOCK_RAW | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);

	if (fd < 0)
		return -errno;
	if (setsockopt(fd, SOL_PACKET, PACKET_AUXDATA, &one, sizeof(one)) < 0)
		return close_failed(fd);
	return fd;
}

/* Binds `fd` to `protocol` on `ifindex`; returns it, or closes it and returns -errno. */
static int bind_socket(int fd, uint32_t ifindex, uint16_t protocol)
{
	struct sockaddr_ll sll = {
		.sll_family = AF_PACKET,
		.sll_protocol = htons(protocol),
		.sll_ifindex = (int)ifindex,
	};

	if (bind(fd, (struct sockaddr *)&sll, sizeof(sll)) < 0)
		return close_failed(fd);
	return fd;
}

int nk_packet_open(uint32_t ifindex, uint16_t ethertype, uint8_t vnet)
{
	int one = 1;
	int fd = unbound_socket();

	if (fd < 0)
		return fd;
	if (vnet && setsockopt(fd, SOL_PACKET, PACKET_VNET_HDR, &one, sizeof(one)) < 0)
		return close_failed(fd);
	return bind_socket(fd, ifindex, ethertype);
}

/*
 * The kernel moves a frame's outer VLAN tag aside before any packet tap runs, then, when no VLAN
 * device takes the frame (always for VID 0), clears it before the protocol handlers run: a socket
 * bound to one EtherType receives a tagged frame as if untagged. Taps bound to ETH_P_ALL run in
 * between and still see the tag. So this socket binds to ETH_P_ALL and, with a classic BPF filter
 * attached before bind, keeps only frames whose type is `ethertype`, directly or behind one tag
 * left in the frame (the inner tag of a QinQ pair). PACKET_IGNORE_OUTGOING keeps it off the
 * transmit path.
 */
int nk_packet_open_tagged(uint32_t ifindex, uint16_t ethertype)
{
	struct sock_filter code[] = {
		BPF_STMT(BPF_LD | BPF_H | BPF_ABS, MAC_PAIR_LEN),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, ethertype, 5, 0),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, ETH_P_8021Q, 2, 0),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, ETH_P_8021AD, 1, 0),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, 0x9100, 0, 3), /* pre-standard QinQ TPID */
		BPF_STMT(BPF_LD | BPF_H | BPF_ABS, MAC_PAIR_LEN + 4),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, ethertype, 0, 1),
		BPF_STMT(BPF_RET | BPF_K, 0xffffffff),
		BPF_STMT(BPF_RET | BPF_K, 0),
	};
	struct sock_fprog prog = { .len = sizeof(code) / sizeof(code[0]), .filter = code };
	int one = 1;
	int fd = unbound_socket();

	if (fd < 0)
		return fd;
	if (setsockopt(fd, SOL_SOCKET, SO_ATTACH_FILTER, &prog, sizeof(prog)) < 0 ||
	    setsockopt(fd, SOL_PACKET, PACKET_IGNORE_OUTGOING, &one, sizeof(one)) < 0)
		return close_failed(fd);
	return bind_socket(fd, ifindex, ETH_P_ALL);
}

int nk_packet_membership(int fd, uint32_t ifindex, uint16_t type, const uint8_t *mac, uint8_t add)
{
	struct packet_mreq mreq = { .mr_ifindex = (int)ifindex, .mr_type = type };

	if (type == PACKET_MR_MULTICAST || type == PACKET_MR_UNICAST) {
		if (mac == NULL)
			return -EINVAL;
		mreq.mr_alen = ETH_ALEN;
		memcpy(mreq.mr_address, mac, ETH_ALEN);
	}
	if (setsockopt(fd, SOL_PACKET, add ? PACKET_ADD_MEMBERSHIP : PACKET_DROP_MEMBERSHIP, &mreq,
		       sizeof(mreq)) < 0)
		return -errno;
	return 0;
}

/*
 * Puts a tag the kernel stripped back between the MACs and the EtherType: the MACs move into
 * the NK_VLAN_HEADROOM bytes (or the vnet header, already read) in front of the frame.
 */
static void restore_vlan_tag(uint8_t *slot, struct nk_frame_meta *m, const struct tpacket_auxdata *aux)
{
	uint8_t *frame = slot + m->offset;
	uint16_t tpid = (aux->tp_status & TP_STATUS_VLAN_TPID_VALID) ? aux->tp_vlan_tpid : ETH_P_8021Q;
	uint16_t tpid_be = htons(tpid), tci_be = htons(aux->tp_vlan_tci);

	m->flags |= NK_FRAME_VLAN;
	m->vlan_tci = aux->tp_vlan_tci;
	m->vlan_tpid = tpid;
	if (m->len < MAC_PAIR_LEN)
		return;
	memmove(frame - NK_VLAN_HEADROOM, frame, MAC_PAIR_LEN);
	memcpy(frame - NK_VLAN_HEADROOM + MAC_PAIR_LEN, &tpid_be, 2);
	memcpy(frame - NK_VLAN_HEADROOM + MAC_PAIR_LEN + 2, &tci_be, 2);
	m->offset -= NK_VLAN_HEADROOM;
	if (m->csum_start != 0) /* the kernel counted from the untagged frame */
		m->csum_start += NK_VLAN_HEADROOM;
	m->len += NK_VLAN_HEADROOM;
	m->wire_len += NK_VLAN_HEADROOM;
}

/* Copies what netkit uses of a vnet header (native endian: PACKET_VNET_HDR is not virtio 1.0). */
static void read_vnet_header(const uint8_t *slot, struct nk_frame_meta *m)
{
	struct virtio_net_hdr h;

	memcpy(&h, slot + NK_VLAN_HEADROOM, sizeof(h));
	m->gso_type = h.gso_type;
	m->gso_size = h.gso_size;
	if (h.flags & VIRTIO_NET_HDR_F_NEEDS_CSUM) {
		m->flags |= NK_FRAME_CSUM_PENDING;
		m->csum_start = h.csum_start;
		m->csum_offset = h.csum_offset;
	}
}

/* Fills the metadata of one received message and restores its VLAN tag. */
static void describe_frame(uint8_t *slot, uint32_t slot_size, struct msghdr *msg, uint32_t msg_len,
			   struct nk_frame_meta *m, uint8_t vnet)
{
	const struct sockaddr_ll *addr = msg->msg_name;
	uint32_t head = vnet ? NK_VNET_HDR_LEN : 0;
	uint32_t cap = slot_size - NK_VLAN_HEADROOM - head;

	memset(m, 0, sizeof(*m));
	if (msg_len < head) { /* cannot happen: the kernel writes the header first */
		m->flags |= NK_FRAME_TRUNCATED;
		m->offset = NK_VLAN_HEADROOM;
		return;
	}
	if (vnet)
		read_vnet_header(slot, m);
	msg_len -= head;
	m->wire_len = msg_len;
	m->len = msg_len < cap ? msg_len : cap;
	if (msg_len > cap || (msg->msg_flags & MSG_TRUNC))
		m->flags |= NK_FRAME_TRUNCATED;
	m->ifindex = (uint32_t)addr->sll_ifindex;
	m->protocol = ntohs(addr->sll_protocol);
	m->pkttype = addr->sll_pkttype;
	memcpy(m->src, addr->sll_addr, 6);
	m->offset = (uint16_t)(NK_VLAN_HEADROOM + head);
	for (struct cmsghdr *c = CMSG_FIRSTHDR(msg); c != NULL; c = CMSG_NXTHDR(msg, c)) {
		struct tpacket_auxdata aux;

		if (c->cmsg_level != SOL_PACKET || c->cmsg_type != PACKET_AUXDATA ||
		    c->cmsg_len < CMSG_LEN(sizeof(aux)))
			continue;
		memcpy(&aux, CMSG_DATA(c), sizeof(aux));
		if (aux.tp_status & TP_STATUS_CSUMNOTREADY)
			m->flags |= NK_FRAME_CSUM_PENDING;
		if ((aux.tp_status & TP_STATUS_VLAN_VALID) || aux.tp_vlan_tci != 0)
			restore_vlan_tag(slot, m, &aux);
	}
}

/*
 * EINVAL from a vnet socket: the kernel met a frame whose GSO type a vnet header cannot
 * describe (tunnel GSO from a GRO'd VXLAN stream, say) and dropped it. Not the socket's end:
 * slot 0 stands for the dropped frame, so the caller counts it and reads on.
 */
static int undescribed_frame(struct nk_frame_meta *m)
{
	memset(m, 0, sizeof(*m));
	m->flags = NK_FRAME_UNDESCRIBED;
	m->offset = NK_VLAN_HEADROOM;
	return 1;
}

union auxdata_control {
	struct cmsghdr align;
	uint8_t buf[CMSG_SPACE(sizeof(struct tpacket_auxdata))];
};

/* Points `msg` at one receive slot (after the VLAN headroom) and its address/control buffers. */
static void prepare_receive(struct msghdr *msg, struct iovec *iov, struct sockaddr_ll *addr,
			    union auxdata_control *ctl, uint8_t *slot, uint32_t slot_size)
{
	iov->iov_base = slot + NK_VLAN_HEADROOM;
	iov->iov_len = slot_size - NK_VLAN_HEADROOM;
	*msg = (struct msghdr){
		.msg_name = addr,
		.msg_namelen = sizeof(*addr),
		.msg_iov = iov,
		.msg_iovlen = 1,
		.msg_control = ctl->buf,
		.msg_controllen = sizeof(ctl->buf),
	};
}

int nk_packet_recv(int fd, uint8_t *slot, uint32_t slot_size, struct nk_frame_meta *meta,
		   uint8_t vnet)
{
	struct msghdr msg;
	struct iovec iov;
	struct sockaddr_ll addr;
	union auxdata_control ctl;
	ssize_t n;

	if (slot_size <= NK_VLAN_HEADROOM + NK_VNET_HDR_LEN)
		return -EINVAL;
	prepare_receive(&msg, &iov, &addr, &ctl, slot, slot_size);
	/* recvmsg(2), not a batch of one: recvmmsg costs ~0.3 us more per call. */
	do
		n = recvmsg(fd, &msg, MSG_DONTWAIT | MSG_TRUNC);
	while (n < 0 && errno == EINTR);
	if (n < 0 && errno == EINVAL && vnet)
		return undescribed_frame(meta);
	if (n < 0)
		return errno == EAGAIN ? 0 : -errno;
	describe_frame(slot, slot_size, &msg, (uint32_t)n, meta, vnet);
	return 1;
}

int nk_packet_recv_batch(int fd, uint8_t *slots, uint32_t slot_size, uint32_t count,
			 struct nk_frame_meta *meta, uint8_t vnet)
{
	struct mmsghdr msgs[NK_BATCH_MAX];
	struct iovec iov[NK_BATCH_MAX];
	struct sockaddr_ll addr[NK_BATCH_MAX];
	union auxdata_control ctl[NK_BATCH_MAX];
	int n;

	if (slot_size <= NK_VLAN_HEADROOM + NK_VNET_HDR_LEN)
		return -EINVAL;
	if (count > NK_BATCH_MAX)
		count = NK_BATCH_MAX;
	for (uint32_t i = 0; i < count; i++) {
		prepare_receive(&msgs[i].msg_hdr, &iov[i], &addr[i], &ctl[i], slots + (size_t)i * slot_size,
				slot_size);
		msgs[i].msg_len = 0;
	}
	/* MSG_TRUNC: msg_len reports the real frame length, so truncation is visible. */
	do
		n = recvmmsg(fd, msgs, count, MSG_DONTWAIT | MSG_TRUNC, NULL);
	while (n < 0 && errno == EINTR);
	/* After frames, recvmmsg keeps the error for the next call: it comes back here then. */
	if (n < 0 && errno == EINVAL && vnet)
		return undescribed_frame(&meta[0]);
	if (n < 0)
		return errno == EAGAIN ? 0 : -errno;
	for (int i = 0; i < n; i++)
		describe_frame(slots + (size_t)i * slot_size, slot_size, &msgs[i].msg_hdr, msgs[i].msg_len,
			       &meta[i], vnet);
	return n;
}

/* Points `msg` at one frame to send, behind the vnet header when the socket has them. */
static void prepare_send(struct msghdr *msg, struct iovec iov[2], const uint8_t *frame, uint32_t len,
			 uint8_t vnet)
{
	iov[0] = (struct iovec){ .iov_base = (void *)&no_offload, .iov_len = sizeof(no_offload) };
	iov[1] = (struct iovec){ .iov_base = (void *)frame, .iov_len = len };
	*msg = (struct msghdr){ .msg_iov = vnet ? iov : iov + 1, .msg_iovlen = vnet ? 2 : 1 };
}

int nk_packet_send(int fd, const uint8_t *frame, uint32_t len, uint8_t vnet)
{
	struct msghdr msg;
	struct iovec iov[2];
	ssize_t n;

	prepare_send(&msg, iov, frame, len, vnet);
	do
		n = sendmsg(fd, &msg, MSG_DONTWAIT);
	while (n < 0 && errno == EINTR);
	if (n < 0)
		return -errno;
	return vnet ? (int)n - NK_VNET_HDR_LEN : (int)n;
}

int nk_packet_send_batch(int fd, const uint8_t *slots, uint32_t slot_size, uint32_t count,
			 const struct nk_frame_meta *meta, uint8_t vnet)
{
	struct mmsghdr msgs[NK_BATCH_MAX];
	struct iovec iov[NK_BATCH_MAX][2];
	int n;

	if (count > NK_BATCH_MAX)
		count = NK_BATCH_MAX;
	for (uint32_t i = 0; i < count; i++) {
		if ((uint64_t)meta[i].offset + meta[i].len > slot_size)
			return -EINVAL;
		prepare_send(&msgs[i].msg_hdr, iov[i], slots + (size_t)i * slot_size + meta[i].offset,
			     meta[i].len, vnet);
		msgs[i].msg_len = 0;
	}
	do
		n = sendmmsg(fd, msgs, count, MSG_DONTWAIT);
	while (n < 0 && errno == EINTR);
	if (n < 0)
		return errno == EAGAIN ? 0 : -errno;
	return n;
}

int nk_packet_stats(int fd, uint32_t *out)
{
	struct tpacket_stats st;
	socklen_t len = sizeof(st);

	if (getsockopt(fd, SOL_PACKET, PACKET_STATISTICS, &st, &len) < 0)
		return -errno;
	out[0] = st.tp_packets;
	out[1] = st.tp_drops;
	return 0;
}

int nk_packet_ignore_outgoing(int fd)
{
	int one = 1;

	if (setsockopt(fd, SOL_PACKET, PACKET_IGNORE_OUTGOING, &one, sizeof(one)) < 0)
		return -errno;
	return 0;
}
