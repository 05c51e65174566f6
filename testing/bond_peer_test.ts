import assert from "node:assert/strict";
import { BondStatusParseError, parseBondStatus } from "./bond_peer.ts";

/**
 * `/proc/net/bonding/bond0` of a 6.1 kernel (the kernel lane), read as root, of a fast-rate bond
 * over p1,p2 aggregated with `netkit lacp -i e1 -i e2` (system 7e:16:fe:58:cb:a2) 4 s after start.
 */
const NEGOTIATED = `Ethernet Channel Bonding Driver: v6.1.176

Bonding Mode: IEEE 802.3ad Dynamic link aggregation
Transmit Hash Policy: layer2 (0)
MII Status: up
MII Polling Interval (ms): 100
Up Delay (ms): 0
Down Delay (ms): 0
Peer Notification Delay (ms): 0

802.3ad info
LACP active: on
LACP rate: fast
Min links: 0
Aggregator selection policy (ad_select): stable
System priority: 65535
System MAC address: fa:16:fc:a6:0a:58
Active Aggregator Info:
\tAggregator ID: 1
\tNumber of ports: 2
\tActor Key: 15
\tPartner Key: 1
\tPartner Mac Address: 7e:16:fe:58:cb:a2

Slave Interface: p1
MII Status: up
Speed: 10000 Mbps
Duplex: full
Link Failure Count: 0
Permanent HW addr: fa:16:fc:a6:0a:58
Slave queue ID: 0
Aggregator ID: 1
Actor Churn State: monitoring
Partner Churn State: monitoring
Actor Churned Count: 0
Partner Churned Count: 0
details actor lacp pdu:
    system priority: 65535
    system mac address: fa:16:fc:a6:0a:58
    port key: 15
    port priority: 255
    port number: 1
    port state: 63
details partner lacp pdu:
    system priority: 32768
    system mac address: 7e:16:fe:58:cb:a2
    oper key: 1
    port priority: 32768
    port number: 1
    port state: 63

Slave Interface: p2
MII Status: up
Speed: 10000 Mbps
Duplex: full
Link Failure Count: 0
Permanent HW addr: 9e:43:03:d4:01:92
Slave queue ID: 0
Aggregator ID: 1
Actor Churn State: monitoring
Partner Churn State: monitoring
Actor Churned Count: 0
Partner Churned Count: 0
details actor lacp pdu:
    system priority: 65535
    system mac address: fa:16:fc:a6:0a:58
    port key: 15
    port priority: 255
    port number: 2
    port state: 63
details partner lacp pdu:
    system priority: 32768
    system mac address: 7e:16:fe:58:cb:a2
    oper key: 1
    port priority: 32768
    port number: 2
    port state: 63
`;

/**
 * The same at slow rate, 96 s after `netkit lacp -k`: both slaves EXPIRED (actor state 141 =
 * activity, aggregation, sync, expired; partner 55 = sync cleared, short timeout set).
 */
const EXPIRED = `Ethernet Channel Bonding Driver: v6.1.176

Bonding Mode: IEEE 802.3ad Dynamic link aggregation
Transmit Hash Policy: layer2 (0)
MII Status: up
MII Polling Interval (ms): 100
Up Delay (ms): 0
Down Delay (ms): 0
Peer Notification Delay (ms): 0

802.3ad info
LACP active: on
LACP rate: slow
Min links: 0
Aggregator selection policy (ad_select): stable
System priority: 65535
System MAC address: 1a:cc:32:b7:16:4c
Active Aggregator Info:
\tAggregator ID: 1
\tNumber of ports: 2
\tActor Key: 15
\tPartner Key: 1
\tPartner Mac Address: 4a:f4:0e:44:b2:41

Slave Interface: p1
MII Status: up
Speed: 10000 Mbps
Duplex: full
Link Failure Count: 0
Permanent HW addr: 1a:cc:32:b7:16:4c
Slave queue ID: 0
Aggregator ID: 1
Actor Churn State: monitoring
Partner Churn State: monitoring
Actor Churned Count: 0
Partner Churned Count: 0
details actor lacp pdu:
    system priority: 65535
    system mac address: 1a:cc:32:b7:16:4c
    port key: 15
    port priority: 255
    port number: 1
    port state: 141
details partner lacp pdu:
    system priority: 32768
    system mac address: 4a:f4:0e:44:b2:41
    oper key: 1
    port priority: 32768
    port number: 1
    port state: 55

Slave Interface: p2
MII Status: up
Speed: 10000 Mbps
Duplex: full
Link Failure Count: 0
Permanent HW addr: a2:0a:c6:df:e7:db
Slave queue ID: 0
Aggregator ID: 1
Actor Churn State: monitoring
Partner Churn State: monitoring
Actor Churned Count: 0
Partner Churned Count: 0
details actor lacp pdu:
    system priority: 65535
    system mac address: 1a:cc:32:b7:16:4c
    port key: 15
    port priority: 255
    port number: 2
    port state: 141
details partner lacp pdu:
    system priority: 32768
    system mac address: 4a:f4:0e:44:b2:41
    oper key: 1
    port priority: 32768
    port number: 2
    port state: 55
`;

Deno.test("parseBondStatus reads the bond, its active aggregator and both slaves' LACP details", () => {
  const status = parseBondStatus(NEGOTIATED);
  assert.deepEqual(
    { ...status, slaves: undefined },
    {
      mode: "IEEE 802.3ad Dynamic link aggregation",
      miiStatus: "up",
      lacpActive: true,
      lacpRate: "fast",
      adSelect: "stable",
      systemPriority: 65535,
      systemMac: "fa:16:fc:a6:0a:58",
      activeAggregator: {
        id: 1,
        ports: 2,
        actorKey: 15,
        partnerKey: 1,
        partnerMac: "7e:16:fe:58:cb:a2",
      },
      slaves: undefined,
    },
  );
  assert.deepEqual(status.slaves[1], {
    name: "p2",
    miiStatus: "up",
    permanentMac: "9e:43:03:d4:01:92",
    aggregatorId: 1,
    actorChurnState: "monitoring",
    partnerChurnState: "monitoring",
    actorChurnedCount: 0,
    partnerChurnedCount: 0,
    actor: {
      systemPriority: 65535,
      systemMac: "fa:16:fc:a6:0a:58",
      key: 15,
      portPriority: 255,
      portNumber: 2,
      portState: 63,
    },
    partner: {
      systemPriority: 32768,
      systemMac: "7e:16:fe:58:cb:a2",
      key: 1,
      portPriority: 32768,
      portNumber: 2,
      portState: 63,
    },
  });
  assert.deepEqual(status.slaves.map((s) => s.name), ["p1", "p2"]);
  assert.equal(status.slaves[0]!.actor!.portNumber, 1);
});

Deno.test("parseBondStatus reads an expired partner at slow rate", () => {
  const status = parseBondStatus(EXPIRED);
  assert.equal(status.lacpRate, "slow");
  assert.deepEqual(status.slaves.map((s) => [s.actor?.portState, s.partner?.portState]), [
    [141, 55],
    [141, 55],
  ]);
});

Deno.test("parseBondStatus reads a bond without an active aggregator and a slave without one", () => {
  const text = NEGOTIATED
    .replace(/Active Aggregator Info:\n(\t.*\n)+/, "bond bond0 has no active aggregator\n")
    .replace(
      /Aggregator ID: 1\nActor Churn State[^]*?port state: 63\n[^]*?port state: 63\n/,
      "Aggregator ID: N/A\n",
    );
  const status = parseBondStatus(text);
  assert.equal(status.activeAggregator, null);
  assert.deepEqual(status.slaves[0], {
    name: "p1",
    miiStatus: "up",
    permanentMac: "fa:16:fc:a6:0a:58",
    aggregatorId: null,
  });
  assert.equal(status.slaves[1]!.aggregatorId, 1);
});

Deno.test("parseBondStatus rejects a bond in another mode and a malformed field", () => {
  assert.throws(
    () =>
      parseBondStatus(
        NEGOTIATED.replace("IEEE 802.3ad Dynamic link aggregation", "load balancing (round-robin)"),
      ),
    BondStatusParseError,
  );
  assert.throws(
    () => parseBondStatus(NEGOTIATED.replace("port state: 63", "port state: sixty")),
    /Field "port state" is not an integer: "sixty"/,
  );
  assert.throws(
    () =>
      parseBondStatus(NEGOTIATED.replace("Actor Churn State: monitoring", "Actor Churn State: ?")),
    /not a churn state/,
  );
  assert.throws(() => parseBondStatus(""), /No "Bonding Mode"/);
});
