/* Library metadata: version, the layouts TypeScript relies on, errno names. */
#define _GNU_SOURCE
#include <errno.h>
#include <stddef.h>
#include <string.h>

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
	SIZE(nk_iface_info),
	FIELD(nk_iface_info, ifindex),
	FIELD(nk_iface_info, flags),
	FIELD(nk_iface_info, mtu),
	FIELD(nk_iface_info, type),
	FIELD(nk_iface_info, mac),
	SIZE(nk_hugebuf),
	FIELD(nk_hugebuf, addr),
	FIELD(nk_hugebuf, len),
	FIELD(nk_hugebuf, backing),
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
