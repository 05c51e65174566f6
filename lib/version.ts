/**
 * netkit's own version; libnetkit carries the same number (`NK_VERSION`), checked by a test.
 *
 * @module
 */

/** The netkit release. */
export const NETKIT_VERSION = "0.1.0";
