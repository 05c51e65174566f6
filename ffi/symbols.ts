/**
 * The libnetkit symbol table (see `c/netkit.h`). Every function returns `>= 0` or `-errno`.
 *
 * @module
 */

/** Symbols of `libnetkit.so`, one entry per C function, parameters commented with their C types. */
export const SYMBOLS = {
  // info.c
  nk_version: { parameters: [], result: "pointer" }, // const char *(void)
  nk_layout: { parameters: ["buffer"], result: "i32" }, // const char *key
  nk_errno_name: { parameters: ["i32"], result: "pointer" }, // int err

  // fd.c
  nk_close: { parameters: ["i32"], result: "i32" }, // int fd
  nk_read: { parameters: ["i32", "buffer", "u32"], result: "i32" }, // int fd, uint8_t *buf, uint32_t len
  nk_write: { parameters: ["i32", "buffer", "u32"], result: "i32" }, // int fd, const uint8_t *buf, uint32_t len
  nk_epoll_open: { parameters: [], result: "i32" },
  nk_epoll_set: { parameters: ["i32", "i32", "u32"], result: "i32" }, // int epfd, int fd, uint32_t events
  nk_epoll_del: { parameters: ["i32", "i32"], result: "i32" }, // int epfd, int fd
  nk_epoll_wait: {
    parameters: [
      "i32", // int epfd
      "buffer", // int32_t *out: {fd, events} pairs
      "u32", // uint32_t max
      "i32", // int32_t timeout_ms
      "i32", // int32_t settle_ms: once something is ready, wait this long more before returning
    ],
    result: "i32",
    // Runs on a worker thread so the event loop keeps going; woken through an eventfd in the set.
    nonblocking: true,
  },
  nk_eventfd_open: { parameters: [], result: "i32" },
  nk_eventfd_signal: { parameters: ["i32"], result: "i32" }, // int fd
  nk_eventfd_drain: { parameters: ["i32"], result: "i32" }, // int fd
  nk_set_rcvbuf: { parameters: ["i32", "u32"], result: "i32" }, // int fd, uint32_t bytes
  nk_udp_fd_by_port: { parameters: ["u16"], result: "i32" }, // uint16_t port
  nk_stdio_to_devnull: { parameters: [], result: "i32" },

  // file.c
  nk_file_open: {
    parameters: [
      "buffer", // const char *path
      "u32", // uint32_t flags (NK_OPEN_*)
      "u32", // uint32_t mode (when created)
      "buffer", // struct nk_file_stat *out
    ],
    result: "i32",
  },

  // packet.c
  nk_packet_open: { parameters: ["u32", "u16", "u8"], result: "i32" }, // uint32_t ifindex, uint16_t ethertype, uint8_t vnet
  nk_packet_open_tagged: { parameters: ["u32", "u16"], result: "i32" }, // uint32_t ifindex, uint16_t ethertype
  nk_packet_membership: {
    parameters: [
      "i32", // int fd
      "u32", // uint32_t ifindex
      "u16", // uint16_t type (PACKET_MR_*)
      "buffer", // const uint8_t *mac (NULL for promisc/allmulti)
      "u8", // uint8_t add
    ],
    result: "i32",
  },
  nk_packet_recv: {
    parameters: [
      "i32", // int fd
      "buffer", // uint8_t *slot
      "u32", // uint32_t slot_size
      "buffer", // struct nk_frame_meta *meta
      "u8", // uint8_t vnet
    ],
    result: "i32",
  },
  nk_packet_recv_batch: {
    parameters: [
      "i32", // int fd
      "buffer", // uint8_t *slots
      "u32", // uint32_t slot_size
      "u32", // uint32_t count
      "buffer", // struct nk_frame_meta *meta
      "u8", // uint8_t vnet
    ],
    result: "i32",
  },
  nk_packet_send: { parameters: ["i32", "buffer", "u32", "u8"], result: "i32" }, // int fd, const uint8_t *frame, uint32_t len, uint8_t vnet
  nk_packet_send_batch: {
    parameters: [
      "i32", // int fd
      "buffer", // const uint8_t *slots
      "u32", // uint32_t slot_size
      "u32", // uint32_t count
      "buffer", // const struct nk_frame_meta *meta
      "u8", // uint8_t vnet
    ],
    result: "i32",
  },
  nk_packet_stats: { parameters: ["i32", "buffer"], result: "i32" }, // int fd, uint32_t out[2]
  nk_packet_ignore_outgoing: { parameters: ["i32"], result: "i32" }, // int fd

  // iface.c
  nk_iface_info: { parameters: ["buffer", "buffer"], result: "i32" }, // const char *name, struct nk_iface_info *out
  nk_iface_name: { parameters: ["u32", "buffer"], result: "i32" }, // uint32_t ifindex, char out[16]
  nk_iface_set_mtu: { parameters: ["buffer", "u32"], result: "i32" }, // const char *name, uint32_t mtu
  nk_iface_set_mac: { parameters: ["buffer", "buffer"], result: "i32" }, // const char *name, const uint8_t mac[6]
  nk_iface_set_up: { parameters: ["buffer", "u8"], result: "i32" }, // const char *name, uint8_t up

  // netlink.c
  nk_netlink_open: { parameters: ["u32", "u32"], result: "i32" }, // uint32_t groups, uint32_t rcvbuf

  // mroute.c
  nk_mroute_open: {
    parameters: [
      "u8", // uint8_t family (4 or 6)
      "u32", // uint32_t table (0: the default)
      "u8", // uint8_t owner (MRT_INIT)
      "u32", // uint32_t rcvbuf (0: the default)
    ],
    result: "i32",
  },
  nk_sockopt_set: {
    parameters: [
      "i32", // int fd
      "i32", // int level
      "i32", // int name
      "buffer", // const uint8_t *buf
      "u32", // uint32_t len
    ],
    result: "i32",
  },
  nk_sockopt_set_batch: {
    parameters: [
      "i32", // int fd
      "i32", // int level
      "i32", // int name
      "buffer", // const uint8_t *records
      "u32", // uint32_t record_len
      "u32", // uint32_t count
      "buffer", // int32_t *errnos (count entries, or NULL)
    ],
    result: "i32",
  },
  nk_ioctl_buf: { parameters: ["i32", "u32", "buffer"], result: "i32" }, // int fd, uint32_t request, uint8_t *buf

  // netns.c
  nk_netns_enter: { parameters: ["buffer"], result: "i32" }, // const char *path
  nk_netns_current: { parameters: [], result: "i32" },
  nk_netns_set: { parameters: ["i32"], result: "i32" }, // int fd
  nk_netns_unshare: { parameters: [], result: "i32" },

  // tap.c
  nk_tap_open: { parameters: ["buffer", "buffer", "u32"], result: "i32" }, // const char *name, char name_out[16], uint32_t offloads
  nk_tun_open: { parameters: ["buffer", "buffer"], result: "i32" }, // const char *name, char name_out[16]
  nk_tap_read_batch: {
    parameters: [
      "i32", // int fd
      "buffer", // uint8_t *slots
      "u32", // uint32_t slot_size
      "u32", // uint32_t headroom
      "u32", // uint32_t count
      "buffer", // struct nk_frame_meta *meta
    ],
    result: "i32",
  },
  nk_tap_write_batch: {
    parameters: [
      "i32", // int fd
      "buffer", // const uint8_t *slots
      "u32", // uint32_t slot_size
      "u32", // uint32_t count
      "buffer", // const struct nk_frame_meta *meta
      "buffer", // uint32_t *failed
    ],
    result: "i32",
  },
  nk_tap_write_vnet: { parameters: ["i32", "buffer", "u32"], result: "i32" }, // int fd, const uint8_t *frame, uint32_t len
  nk_tun_probe: { parameters: [], result: "i32" },

  // hugebuf.c
  nk_hugebuf_map: { parameters: ["u64", "buffer"], result: "i32" }, // uint64_t size, struct nk_hugebuf *out
  nk_hugebuf_unmap: { parameters: ["u64", "u64"], result: "i32" }, // uint64_t addr, uint64_t len
} as const satisfies Deno.ForeignLibraryInterface;

/** The bound functions of libnetkit. */
export type NetkitSymbols = Deno.DynamicLibrary<typeof SYMBOLS>["symbols"];
