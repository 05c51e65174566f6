/**
 * `netkit vnet daemon` as a real process: two guests in two namespaces, each on a TAP the daemon
 * created and the test moved into the guest's namespace, ping each other through netkit (routed:
 * the TTL arrives decremented) with static addresses and a static neighbour entry for the gateway
 * (routing alone: the responders have tests of their own, vnet_v4_test.ts and vnet_v6_test.ts);
 * a guest reaches an address of the daemon's own namespace through
 * `--uplink`; NICs are removed and added live; the state survives a restart; SIGHUP keeps it
 * serving.
 *
 * @module
 */

import assert from "node:assert/strict";
import { delay, waitFor } from "../../lib/async.ts";
import { ip, NamespaceLab, sh } from "../../lib/lab/namespace_lab.ts";
import { needs } from "../skip.ts";
import { VnetProcess } from "./_vnet.ts";

const GATEWAY_MAC = "02:00:00:00:00:01";
const GUESTS = [
  { name: "vm1", mac: "52:54:00:00:00:01", ipv4: "192.0.2.1", ipv6: "2001:db8::1" },
  { name: "vm2", mac: "52:54:00:00:00:02", ipv4: "192.0.2.2", ipv6: "2001:db8::2" },
] as const;

/** Moves `guest`'s TAP from the daemon's namespace into `netns` and configures it statically. */
function placeGuest(router: string, netns: string, guest: typeof GUESTS[number]): void {
  ip("-n", router, "link", "set", guest.name, "netns", netns);
  const dev = ["dev", guest.name];
  ip("-n", netns, "link", "set", guest.name, "up");
  ip("-n", netns, "addr", "add", `${guest.ipv4}/32`, ...dev);
  ip("-n", netns, "-6", "addr", "add", `${guest.ipv6}/128`, ...dev, "nodad");
  ip("-n", netns, "route", "add", "169.254.0.1", ...dev);
  ip("-n", netns, "route", "add", "default", "via", "169.254.0.1", ...dev);
  ip(
    "-n",
    netns,
    "neigh",
    "replace",
    "169.254.0.1",
    "lladdr",
    GATEWAY_MAC,
    ...dev,
    "nud",
    "permanent",
  );
  ip(
    "-n",
    netns,
    "-6",
    "neigh",
    "replace",
    "fe80::1",
    "lladdr",
    GATEWAY_MAC,
    ...dev,
    "nud",
    "permanent",
  );
  // replace: the daemon's RA may have put the same default route in first.
  ip("-n", netns, "-6", "route", "replace", "default", "via", "fe80::1", ...dev);
}

function ping(netns: string, target: string): string {
  return sh("ip", "netns", "exec", netns, "ping", "-c", "2", "-i", "0.2", "-W", "2", target);
}

Deno.test({
  name:
    "vnet routes guest to guest on TAPs moved into namespaces, reaches the uplink, keeps its state",
  ignore: needs("root", "netns", "tun", "ping"),
  async fn() {
    using lab = new NamespaceLab();
    const router = lab.netns("r");
    const guests = [lab.netns("g1"), lab.netns("g2")];
    const dir = Deno.makeTempDirSync({ prefix: "netkit-vnet-" });
    const socket = `${dir}/vnet.sock`;
    const state = `${dir}/vnet.json`;
    const log = `${dir}/vnet.log`;
    try {
      {
        await using vnet = await VnetProcess.start(router, { socket, state, log }, [
          "--uplink",
          "nkup0",
        ]);
        for (const g of GUESTS) {
          vnet.vnet("nic", "add", g.name, "--mac", g.mac, "--ipv4", g.ipv4, "--ipv6", g.ipv6);
        }
        GUESTS.forEach((g, i) => placeGuest(router, guests[i]!, g));

        // Routed: the kernel answers with TTL 64, netkit takes one off on the way back.
        assert.match(ping(guests[0]!, GUESTS[1].ipv4), /ttl=63/);
        assert.match(ping(guests[1]!, GUESTS[0].ipv6), /ttl=63/);

        // The uplink: an address of the daemon's namespace, reached through the TUN device.
        ip("-n", router, "addr", "add", "198.51.100.1/32", "dev", "nkup0");
        ip("-n", router, "route", "add", "192.0.2.0/24", "dev", "nkup0");
        assert.match(ping(guests[0]!, "198.51.100.1"), /ttl=63/);

        const shown = vnet.show();
        assert.equal(shown.uplink?.name, "nkup0");
        assert.deepEqual(shown.nics.map((n) => [n.name, n.device.state]), [["vm1", "up"], [
          "vm2",
          "up",
        ]]);
        const vm1 = shown.nics[0]!.counters!;
        assert.ok(vm1.routed >= 4, JSON.stringify(vm1));
        assert.ok(shown.uplink!.counters!.tx_frames >= 2);

        // SIGHUP keeps it serving.
        Deno.kill(vnet.daemon.pid, "SIGHUP");
        await delay(300);
        assert.equal(vnet.show().nics.length, 2);

        // NIC del removes the TAP (from the guest's namespace too); add brings it back.
        vnet.vnet("nic", "del", "vm2");
        // The TAP goes once the poll under way lets go of its descriptor (within 1 s).
        await waitFor(
          () => ip("-n", guests[1]!, "-o", "link", "show"),
          (out) => !out.includes("vm2"),
          {
            timeoutMs: 3000,
            what: "the TAP vm2 to go",
          },
        );
        const g2 = GUESTS[1];
        vnet.vnet("nic", "add", g2.name, "--mac", g2.mac, "--ipv4", g2.ipv4, "--ipv6", g2.ipv6);
        placeGuest(router, guests[1]!, g2);
        // The poll picks the new TAP up within its longest sleep (1 s).
        await delay(1100);
        assert.match(ping(guests[0]!, g2.ipv4), /ttl=63/);
      }

      // Restarted on the same state file: both NICs are back (new TAPs in the daemon's namespace).
      await using again = await VnetProcess.start(router, { socket, state, log }, [
        "--uplink",
        "nkup0",
      ]);
      assert.deepEqual(again.show().nics.map((n) => n.name), ["vm1", "vm2"]);
      ip("-n", router, "link", "show", "vm1");
    } finally {
      Deno.removeSync(dir, { recursive: true });
    }
  },
});
