import assert from "node:assert/strict";
import { InvalidInputError } from "../../errors.ts";
import { formatIpv4, formatMac, parseIpv4, parseMac } from "../../packet/mod.ts";
import { createIpv4NicView, silentResult } from "./nic_view.ts";

const GUEST = parseMac("52:54:00:12:34:01");

Deno.test("createIpv4NicView fills in the linklocal gateway and T1/T2 of RFC 2131 4.4.5", () => {
  const view = createIpv4NicView({ guestMac: GUEST, guestIpv4: parseIpv4("10.0.0.5") });
  assert.equal(formatMac(view.gatewayMac), "02:00:00:00:00:01");
  assert.equal(formatIpv4(view.gatewayIpv4), "169.254.0.1");
  assert.equal(view.profile, "linklocal");
  assert.equal(view.prefixLength, 32);
  assert.equal(view.mtu, 1500);
  assert.deepEqual([view.leaseTime, view.renewalTime, view.rebindingTime], [86400, 43200, 75600]);
  assert.ok(Object.isFrozen(view));
});

Deno.test("createIpv4NicView refuses what no guest could use, naming the problem", () => {
  const bad: [Parameters<typeof createIpv4NicView>[0], RegExp][] = [
    [{ guestMac: GUEST, profile: "lan" }, /lan profile needs a gateway/],
    [{ guestMac: parseMac("01:00:5e:00:00:01") }, /guest MAC "01:00:5e:00:00:01"/],
    [{ guestMac: GUEST, guestIpv4: new Uint8Array(3) }, /guest IPv4 address: expected 4/],
    [{ guestMac: GUEST, prefixLength: 33 }, /prefix length "33"/],
    [{ guestMac: GUEST, mtu: 67 }, /MTU "67"/],
    [{ guestMac: GUEST, dnsServers: Array(9).fill(parseIpv4("192.0.2.53")) }, /Too many DNS/],
    [{ guestMac: GUEST, leaseTime: 59 }, /lease time "59"/],
    [{ guestMac: GUEST, leaseTime: 600, renewalTime: 500, rebindingTime: 400 }, /T1 < T2/],
  ];
  for (const [init, message] of bad) {
    assert.throws(() => createIpv4NicView(init), (err: unknown) => {
      assert.ok(err instanceof InvalidInputError);
      assert.match(err.message, message);
      return true;
    });
  }
});

Deno.test("silentResult is one frozen object, with a shared event only when asked", () => {
  const quiet = silentResult("arp", "arp_not_gateway");
  assert.deepEqual(quiet, { frames: [], reason: "arp_not_gateway" });
  assert.ok(Object.isFrozen(quiet));
  const noted = silentResult("dhcpv4", "dhcp_foreign_chaddr", "ignored");
  assert.deepEqual(noted.event, {
    kind: "ignored",
    protocol: "dhcpv4",
    reason: "dhcp_foreign_chaddr",
  });
});
