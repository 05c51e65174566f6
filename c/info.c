/* Library metadata: version, the layouts TypeScript relies on, errno names. */
#define _GNU_SOURCE
#include <errno.h>
#include <stddef.h>
#include <netinet/in.h>
#include <string.h>

#include <linux/mroute.h>
#include <linux/mroute6.h>
#include <linux/rtnetlink.h>

#include "netkit.h"

const char *nk_version(void)
{
	return NK_VERSION;
}

#define FIELD(type, field) { #type "." #field, offsetof(struct type, field) }
#define SIZE(type) { #type ".sizeof", sizeof(struct type) }

static const struct {
	const char *key;
	size_t value;
} layouts[] = {
	SIZE(nk_frame_meta),
	FIELD(nk_frame_meta, len),
	FIELD(nk_frame_meta, wire_len),
	FIELD(nk_frame_meta, ifindex),
	FIELD(nk_frame_meta, protocol),
	FIELD(nk_frame_meta, pkttype),
	FIELD(nk_frame_meta, flags),
	FIELD(nk_frame_meta, vlan_tci),
	FIELD(nk_frame_meta, vlan_tpid),
	FIELD(nk_frame_meta, src),
	FIELD(nk_frame_meta, offset),
	FIELD(nk_frame_meta, gso_size),
	FIELD(nk_frame_meta, gso_type),
	FIELD(nk_frame_meta, csum_start),
	FIELD(nk_frame_meta, csum_offset),
	SIZE(nk_iface_info),
	FIELD(nk_iface_info, ifindex),
	FIELD(nk_iface_info, flags),
	FIELD(nk_iface_info, mtu),
	FIELD(nk_iface_info, type),
	FIELD(nk_iface_info, mac),
	SIZE(nk_file_stat),
	FIELD(nk_file_stat, dev),
	FIELD(nk_file_stat, ino),
	FIELD(nk_file_stat, mode),
	FIELD(nk_file_stat, uid),
	FIELD(nk_file_stat, gid),
	FIELD(nk_file_stat, nlink),
	SIZE(nk_hugebuf),
	FIELD(nk_hugebuf, addr),
	FIELD(nk_hugebuf, len),
	FIELD(nk_hugebuf, backing),
	/* Multicast routing structs built and read by lib/net/mroute_structs.ts. */
	SIZE(vifctl),
	FIELD(vifctl, vifc_vifi),
	FIELD(vifctl, vifc_flags),
	FIELD(vifctl, vifc_threshold),
	FIELD(vifctl, vifc_rate_limit),
	FIELD(vifctl, vifc_lcl_ifindex),
	FIELD(vifctl, vifc_rmt_addr),
	SIZE(mfcctl),
	FIELD(mfcctl, mfcc_origin),
	FIELD(mfcctl, mfcc_mcastgrp),
	FIELD(mfcctl, mfcc_parent),
	FIELD(mfcctl, mfcc_ttls),
	FIELD(mfcctl, mfcc_pkt_cnt),
	SIZE(mif6ctl),
	FIELD(mif6ctl, mif6c_mifi),
	FIELD(mif6ctl, mif6c_flags),
	FIELD(mif6ctl, vifc_threshold),
	FIELD(mif6ctl, mif6c_pifi),
	FIELD(mif6ctl, vifc_rate_limit),
	SIZE(sockaddr_in6),
	FIELD(sockaddr_in6, sin6_family),
	FIELD(sockaddr_in6, sin6_addr),
	SIZE(mf6cctl),
	FIELD(mf6cctl, mf6cc_origin),
	FIELD(mf6cctl, mf6cc_mcastgrp),
	FIELD(mf6cctl, mf6cc_parent),
	FIELD(mf6cctl, mf6cc_ifset),
	SIZE(sioc_sg_req),
	FIELD(sioc_sg_req, src),
	FIELD(sioc_sg_req, grp),
	FIELD(sioc_sg_req, pktcnt),
	FIELD(sioc_sg_req, bytecnt),
	FIELD(sioc_sg_req, wrong_if),
	SIZE(sioc_vif_req),
	FIELD(sioc_vif_req, vifi),
	FIELD(sioc_vif_req, icount),
	FIELD(sioc_vif_req, ocount),
	FIELD(sioc_vif_req, ibytes),
	FIELD(sioc_vif_req, obytes),
	SIZE(sioc_sg_req6),
	FIELD(sioc_sg_req6, src),
	FIELD(sioc_sg_req6, grp),
	FIELD(sioc_sg_req6, pktcnt),
	FIELD(sioc_sg_req6, bytecnt),
	FIELD(sioc_sg_req6, wrong_if),
	SIZE(sioc_mif_req6),
	FIELD(sioc_mif_req6, mifi),
	FIELD(sioc_mif_req6, icount),
	FIELD(sioc_mif_req6, ocount),
	FIELD(sioc_mif_req6, ibytes),
	FIELD(sioc_mif_req6, obytes),
	SIZE(igmpmsg),
	FIELD(igmpmsg, im_msgtype),
	FIELD(igmpmsg, im_mbz),
	FIELD(igmpmsg, im_vif),
	FIELD(igmpmsg, im_vif_hi),
	FIELD(igmpmsg, im_src),
	FIELD(igmpmsg, im_dst),
	SIZE(mrt6msg),
	FIELD(mrt6msg, im6_mbz),
	FIELD(mrt6msg, im6_msgtype),
	FIELD(mrt6msg, im6_mif),
	FIELD(mrt6msg, im6_src),
	FIELD(mrt6msg, im6_dst),
	SIZE(rtmsg),
	FIELD(rtmsg, rtm_family),
	FIELD(rtmsg, rtm_table),
	FIELD(rtmsg, rtm_protocol),
	FIELD(rtmsg, rtm_type),
	FIELD(rtmsg, rtm_flags),
	SIZE(rtnexthop),
	FIELD(rtnexthop, rtnh_hops),
	FIELD(rtnexthop, rtnh_ifindex),
	SIZE(rta_mfc_stats),
	FIELD(rta_mfc_stats, mfcs_packets),
	FIELD(rta_mfc_stats, mfcs_bytes),
	FIELD(rta_mfc_stats, mfcs_wrong_if),
};

int nk_layout(const char *key)
{
	for (size_t i = 0; i < sizeof(layouts) / sizeof(layouts[0]); i++)
		if (strcmp(layouts[i].key, key) == 0)
			return (int)layouts[i].value;
	return -ENOENT;
}

const char *nk_errno_name(int err)
{
	return strerrorname_np(err);
}
