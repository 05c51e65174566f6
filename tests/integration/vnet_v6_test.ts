/**
 * `netkit vnet daemon`'s IPv6 responders against real clients, each guest a namespace holding
 * the TAP the daemon made: `rdisc6` (flags, lifetime, MTU, RDNSS, source fe80::1), `ndisc6
 * fe80::1` (the gateway's MAC), `ping -6 fe80::1`, `dhclient -6` and `dhcpcd -6 -T` (address and
 * DNS), unsolicited RAs at the NIC's short `--ra-interval` with no solicitation from the guest,
 * the kernel's own SLAAC in `lan --slaac` (the kernel as the RA validator: an address in the
 * prefix and `default via fe80::1`), and a final RA with router lifetime 0 when the NIC is
 * removed. tshark captures the first guest's link for the whole run: no frame of the gateway's
 * is malformed or has a bad checksum.
 *
 * @module
 */

import assert from "node:assert/strict";
import { delay, waitFor } from "../../lib/async.ts";
import { ip, NamespaceLab } from "../../lib/lab/namespace_lab.ts";
import { needs } from "../skip.ts";
import { Capture } from "./_l2.ts";
import { inNetns, recordedEnv, VnetProcess } from "./_vnet.ts";

const GATEWAY_MAC = "02:00:00:00:00:01";
const RA_INTERVAL_S = 4;

/** Moves the TAP `name` into `netns` and brings it up, without DAD (and, `quiet`, without RS). */
function placeGuest(router: string, netns: string, name: string, quiet: boolean): void {
  ip("-n", router, "link", "set", name, "netns", netns);
  inNetns(netns, 5, "sysctl", "-qw", `net.ipv6.conf.${name}.accept_dad=0`);
  if (quiet) inNetns(netns, 5, "sysctl", "-qw", `net.ipv6.conf.${name}.router_solicitations=0`);
  ip("-n", netns, "link", "set", "lo", "up");
  ip("-n", netns, "link", "set", name, "up");
}

Deno.test({
  name: "vnet IPv6: rdisc6, ndisc6, ping -6, dhclient -6, dhcpcd -6, periodic RAs, kernel SLAAC",
  ignore: needs("root", "netns", "tun", "ping", "rdisc6", "ndisc6", "dhclient", "dhcpcd", "tshark"),
  async fn() {
    using lab = new NamespaceLab();
    const router = lab.netns("r");
    const guest = lab.netns("g1");
    const slaacGuest = lab.netns("g2");
    const dir = Deno.makeTempDirSync({ prefix: "netkit-vnet6-" });
    try {
      await using daemon = await VnetProcess.startIn(router, dir);
      // linklocal: the address by DHCPv6 (M=1), DNS by RDNSS and DHCPv6.
      daemon.vnet(
        ...["nic", "add", "vm1", "--mac", "52:54:00:00:00:01", "--ipv6", "2001:db8::5"],
        ...["--dns", "2001:db8::53", "--ra-interval", String(RA_INTERVAL_S)],
      );
      placeGuest(router, guest, "vm1", true);
      await using capture = await Capture.start(guest, "vm1");
      const started = performance.now();

      const rdisc6 = inNetns(guest, 10, "rdisc6", "-1", "vm1");
      assert.match(rdisc6, /Stateful address conf\.\s+:\s+Yes/);
      assert.match(rdisc6, /Stateful other conf\.\s+:\s+Yes/);
      assert.match(rdisc6, /Router lifetime\s+:\s+1800 /);
      assert.match(rdisc6, /MTU\s+:\s+1500 bytes/);
      assert.match(rdisc6, /Recursive DNS server\s+:\s+2001:db8::53/);
      assert.match(rdisc6, /Source link-layer address: 02:00:00:00:00:01/);
      assert.doesNotMatch(rdisc6, /Prefix\s+:/, "linklocal: no prefix");
      assert.match(rdisc6, /from fe80::1\n/);

      const ndisc6 = inNetns(guest, 10, "ndisc6", "fe80::1", "vm1");
      assert.match(ndisc6, new RegExp(`Target link-layer address: ${GATEWAY_MAC}`, "i"));

      assert.match(
        inNetns(guest, 10, "ping", "-6", "-c", "2", "-i", "0.2", "-W", "2", "fe80::1%vm1"),
        /2 received/,
      );

      // dhclient -6: bound, then left running in the background: stopped by its pid.
      const script = `${dir}/record.sh`;
      Deno.writeTextFileSync(
        script,
        `#!/bin/sh\nenv | grep -E '^(reason|new_)' >> ${dir}/dhclient6.env\nexit 0\n`,
      );
      Deno.chmodSync(script, 0o755);
      const pidFile = `${dir}/dhclient6.pid`;
      try {
        inNetns(
          guest,
          20,
          ...["dhclient", "-6", "-1", "-sf", script, "-lf", `${dir}/dhclient6.leases`],
          ...["-pf", pidFile, "vm1"],
        );
        const dhclient = recordedEnv(`${dir}/dhclient6.env`);
        assert.equal(dhclient.get("reason"), "BOUND6");
        assert.equal(dhclient.get("new_ip6_address"), "2001:db8::5");
        assert.equal(dhclient.get("new_dhcp6_name_servers"), "2001:db8::53");
      } finally {
        try {
          Deno.kill(Number(Deno.readTextFileSync(pidFile).trim()), "SIGTERM");
        } catch {
          // Never started, or gone.
        }
      }

      const dhcpcd = inNetns(guest, 20, "dhcpcd", "-6", "-T", "vm1");
      assert.match(dhcpcd, /new_dhcp6_ia_na1_ia_addr1='2001:db8::5'/);
      assert.match(dhcpcd, /new_dhcp6_ia_na1_ia_addr1_vltime='172800'/);
      assert.match(dhcpcd, /new_dhcp6_name_servers='2001:db8::53'/);
      assert.match(dhcpcd, /new_dhcp6_server_id='00030001020000000001'/);

      // lan --slaac: the kernel forms its address from the PIO and takes fe80::1 as its router.
      daemon.vnet(
        ...["nic", "add", "vm2", "--mac", "52:54:00:00:00:02", "--profile", "lan"],
        ...["--ipv6", "2001:db8:1::5/64", "--slaac"],
      );
      placeGuest(router, slaacGuest, "vm2", false);
      await waitFor(
        () =>
          ip("-n", slaacGuest, "-6", "addr", "show", "dev", "vm2") +
          ip("-n", slaacGuest, "-6", "route", "show", "dev", "vm2"),
        (out) =>
          /inet6 2001:db8:1:0:5054:ff:fe00:2\/64 scope global dynamic/.test(out) &&
          /default via fe80::1 proto ra/.test(out),
        { timeoutMs: 10_000, what: "SLAAC and the default route from the RA" },
      );

      // Unsolicited RAs to ff02::1 for at least 2.5 intervals (the guest sends no RS itself).
      const waited = performance.now() - started;
      const window = 2.5 * RA_INTERVAL_S * 1000;
      if (waited < window) await delay(window - waited);
      daemon.vnet("nic", "del", "vm1");
      const { rows } = await capture.rows(
        ["frame.time_relative", "ipv6.dst", "icmpv6.nd.ra.router_lifetime"],
        "icmpv6.type == 134",
      );
      const multicast = rows.filter(([, dst]) => dst === "ff02::1");
      const final = multicast.pop();
      assert.equal(final?.[2], "0", "the final RA of a removed NIC has router lifetime 0");
      assert.ok(multicast.length >= 2, `periodic RAs: ${JSON.stringify(rows)}`);
      const times = multicast.map(([t]) => Number(t));
      for (let i = 1; i < times.length; i++) {
        const gap = times[i]! - times[i - 1]!;
        // MinRtrAdvInterval is 3 s for a 4 s MaxRtrAdvInterval; the poll may wake a little late.
        assert.ok(gap >= 2.9 && gap <= RA_INTERVAL_S + 2, `RA gaps: ${JSON.stringify(times)}`);
      }
      const checked = await capture.rows(
        ["frame.number"],
        `eth.src == ${GATEWAY_MAC}`,
        ["udp.check_checksum:TRUE"],
      );
      assert.ok(checked.rows.length >= 8);
      assert.deepEqual(checked.expert.filter((e) => /checksum|malformed/i.test(e)), []);
    } finally {
      Deno.removeSync(dir, { recursive: true });
    }
  },
});
