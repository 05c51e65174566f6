import assert from "node:assert/strict";
import { diffLink } from "./link_monitor.ts";
import type { Link } from "./netlink_messages.ts";

const base: Link = {
  family: 0,
  ifindex: 4,
  name: "eth0",
  type: 1,
  flags: 0x1,
  mtu: 1500,
  mac: new Uint8Array([2, 0, 0, 0, 0, 1]),
  operState: "up",
  up: true,
  carrier: true,
};

Deno.test("diffLink() reports nothing for an unchanged link", () => {
  assert.deepEqual(diffLink(base, { ...base, mac: base.mac!.slice() }), []);
});

Deno.test("diffLink() reports each changed property as its own event", () => {
  const after: Link = {
    ...base,
    name: "lan0",
    up: false,
    carrier: false,
    mtu: 9000,
    mac: new Uint8Array(6),
  };
  assert.deepEqual(diffLink(base, after).map((e) => e.type), [
    "renamed",
    "admin",
    "carrier",
    "mtu",
    "address",
  ]);
  const [renamed] = diffLink(base, { ...base, name: "lan0" });
  assert.deepEqual(renamed, { type: "renamed", link: { ...base, name: "lan0" }, oldName: "eth0" });
});
