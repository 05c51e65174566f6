import assert from "node:assert/strict";
import { InvalidInputError } from "../errors.ts";
import { formatIpv4 } from "../packet/ipv4.ts";
import { formatIpv6 } from "../packet/ipv6.ts";
import { formatMac } from "../packet/mac.ts";
import { checkNicFits, MAX_NICS, type NicSpec, resolveNic } from "./config.ts";

const base: NicSpec = { name: "vm0", mac: "52:54:00:12:34:01", ipv4: "192.0.2.5" };

function refused(spec: NicSpec, pattern: RegExp): void {
  assert.throws(() => resolveNic(spec), (err: unknown) => {
    assert.ok(err instanceof InvalidInputError, String(err));
    assert.match(err.message, pattern);
    assert.doesNotMatch(err.message, /\n/);
    return true;
  });
}

Deno.test("resolveNic: linklocal gives the guest a /32 and /128 behind 169.254.0.1 and fe80::1", () => {
  const nic = resolveNic({ ...base, ipv6: "2001:db8::5" });
  assert.equal(nic.profile, "linklocal");
  assert.equal(nic.ipv4?.prefixLength, 32);
  assert.equal(formatIpv4(nic.ipv4!.gateway), "169.254.0.1");
  assert.equal(nic.ipv6?.prefixLength, 128);
  assert.equal(formatIpv6(nic.ipv6!.gateway), "fe80::1");
  assert.equal(formatMac(nic.gatewayMac), "02:00:00:00:00:01");
  assert.deepEqual(nic.device, { kind: "tap", name: "vm0" });
  assert.equal(nic.mtu, 1500);
  assert.equal(nic.raIntervalS, 600);
  assert.equal(nic.spec.ipv4, "192.0.2.5/32");
});

Deno.test("resolveNic: lan takes the first host as gateway unless one is given", () => {
  const first = resolveNic({
    ...base,
    profile: "lan",
    ipv4: "192.0.2.5/24",
    ipv6: "2001:db8:1::5/64",
  });
  assert.equal(formatIpv4(first.ipv4!.gateway), "192.0.2.1");
  assert.equal(formatIpv6(first.ipv6!.gateway), "2001:db8:1::1");
  assert.equal(first.spec.gateway4, "192.0.2.1");
  const given = resolveNic({
    ...base,
    profile: "lan",
    ipv4: "192.0.2.5/24",
    gateway4: "192.0.2.254",
    attach: "veth1",
    slaac: true,
    ipv6: "2001:db8:1::5/64",
  });
  assert.equal(formatIpv4(given.ipv4!.gateway), "192.0.2.254");
  assert.deepEqual(given.device, { kind: "attach", name: "veth1" });
  assert.equal(given.slaac, true);
});

Deno.test("resolveNic refuses bad input with one line naming the NIC", () => {
  refused({ ...base, mac: "nope" }, /NIC "vm0": Invalid MAC/);
  refused({ ...base, mac: "01:00:5e:00:00:01" }, /not a unicast MAC/);
  refused({ ...base, mac: "02:00:00:00:00:01" }, /gateway's MAC/);
  refused({ ...base, ipv4: "192.0.2.5/24" }, /linklocal profile gives the guest a \/32/);
  refused({ ...base, profile: "lan", ipv4: "192.0.2.5" }, /needs a prefix length/);
  refused({ ...base, profile: "lan", ipv4: "192.0.2.5/24", gateway4: "198.51.100.1" }, /outside/);
  refused({ ...base, profile: "lan", ipv4: "192.0.2.1/24" }, /cannot both be/);
  refused({ ...base, ipv4: "192.0.2.5/33" }, /prefix length must be 1 to 32/);
  refused({ ...base, gateway4: "169.254.0.2" }, /--gateway4 needs --profile lan/);
  refused({ name: "vm0", mac: base.mac }, /--ipv4, --ipv6 or both/);
  refused({ ...base, tap: "t0", attach: "veth0" }, /cannot be used together/);
  refused({ ...base, name: "a-very-long-interface-name" }, /Invalid interface name/);
  refused({ ...base, mtu: 100 }, /--mtu 100 is out of range/);
  refused({ ...base, ipv6: "2001:db8::5", mtu: 1000 }, /--mtu 1000 is out of range: 1280/);
  refused({ ...base, ra_interval: 1 }, /--ra-interval 1/);
  refused({ ...base, ipv6: "2001:db8::5", slaac: true }, /--slaac needs --profile lan/);
  refused({ ...base, dns: ["192.0.2.53", "bad"] }, /Invalid IPv4 address "bad"/);
  refused({ ...base, dns: Array(9).fill("192.0.2.53") }, /at most 8 DNS servers/);
});

Deno.test("checkNicFits refuses a second NIC with the same name, device, MAC or address", () => {
  const a = resolveNic(base);
  checkNicFits(
    [a],
    resolveNic({ ...base, name: "vm1", mac: "52:54:00:12:34:02", ipv4: "192.0.2.6" }),
  );
  assert.throws(
    () => checkNicFits([a], resolveNic({ ...base, mac: "52:54:00:12:34:02", ipv4: "192.0.2.6" })),
    /the name is already NIC "vm0"'s/,
  );
  assert.throws(
    () => checkNicFits([a], resolveNic({ ...base, name: "vm1", ipv4: "192.0.2.6" })),
    /MAC 52:54:00:12:34:01/,
  );
  assert.throws(
    () => checkNicFits([a], resolveNic({ ...base, name: "vm1", mac: "52:54:00:12:34:02" })),
    /address 192.0.2.5/,
  );
  assert.throws(
    () => checkNicFits(Array(MAX_NICS).fill(a), resolveNic({ ...base, name: "vm9" })),
    new RegExp(`already serves ${MAX_NICS} NICs`),
  );
});
