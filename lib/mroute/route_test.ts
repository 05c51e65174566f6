import assert from "node:assert/strict";
import { InvalidRouteError, parseRoute, routeKey, routeName, withOifs } from "./route.ts";

Deno.test("parseRoute() normalizes addresses, defaults TTLs and sorts outputs", () => {
  const route = parseRoute({
    source: " 10.1.1.5 ",
    group: "239.10.20.30",
    iif: "eth1",
    oifs: ["eth3:5", { name: "eth2" }],
  });
  assert.deepEqual(route, {
    family: 4,
    source: "10.1.1.5",
    group: "239.10.20.30",
    iif: "eth1",
    oifs: [{ name: "eth2", ttl: 1 }, { name: "eth3", ttl: 5 }],
    key: "4|10.1.1.5|239.10.20.30",
    addresses: {
      source: new Uint8Array([10, 1, 1, 5]),
      group: new Uint8Array([239, 10, 20, 30]),
    },
    json: '{"source":"10.1.1.5","group":"239.10.20.30","iif":"eth1","oifs":["eth2","eth3:5"]}',
  });
  const star = parseRoute({ group: "ff0e::1", iif: "a", oifs: ["b"] });
  assert.deepEqual(star.addresses.source, new Uint8Array(16), "(*,G): a zero source");
  assert.equal(star.json, '{"group":"ff0e::1","iif":"a","oifs":["b"]}');
  const merged = withOifs(route, [{ name: "eth0", ttl: 2 }, ...route.oifs]);
  assert.deepEqual(merged.oifs.map((o) => o.name), ["eth0", "eth2", "eth3"]);
  assert.match(merged.json, /"oifs":\["eth0:2","eth2","eth3:5"\]/);
  const v6 = parseRoute({
    source: "2001:DB8:0:0::1",
    group: "FF0E:0::1:2:3",
    iif: "a",
    oifs: ["b"],
  });
  assert.deepEqual([v6.family, v6.source, v6.group], [6, "2001:db8::1", "ff0e::1:2:3"]);
  assert.equal(routeKey(v6), "6|2001:db8::1|ff0e::1:2:3");
  assert.equal(
    routeName(parseRoute({ group: "239.1.1.1", iif: "a", oifs: ["b"] })),
    "(*, 239.1.1.1)",
  );
  assert.equal(parseRoute({ source: "*", group: "239.1.1.1", iif: "a", oifs: ["b"] }).source, null);
});

Deno.test("parseRoute() refuses what the kernel would accept or silently ignore", () => {
  const bad: [Parameters<typeof parseRoute>[0], string][] = [
    [
      { group: "10.0.0.1", iif: "a", oifs: ["b"] },
      "Group '10.0.0.1' is not a multicast address (224.0.0.0/4).",
    ],
    [
      { group: "224.0.0.5", iif: "a", oifs: ["b"] },
      "Group '224.0.0.5' is link-local (224.0.0.0/24); the kernel never routes it.",
    ],
    [
      { group: "2001:db8::1", iif: "a", oifs: ["b"] },
      "Group '2001:db8::1' is not a multicast address (ff00::/8).",
    ],
    [
      { group: "ff02::1", iif: "a", oifs: ["b"] },
      "Group 'ff02::1' has interface- or link-local scope (ff01::/16, ff02::/16); the kernel never routes it.",
    ],
    [
      { group: "ff01::1", iif: "a", oifs: ["b"] },
      "Group 'ff01::1' has interface- or link-local scope (ff01::/16, ff02::/16); the kernel never routes it.",
    ],
    [
      { group: "239.1.1.1.1", iif: "a", oifs: ["b"] },
      "Group '239.1.1.1.1' is not an IPv4 or IPv6 address.",
    ],
    [
      { source: "2001:db8::1", group: "239.1.1.1", iif: "a", oifs: ["b"] },
      "Source '2001:db8::1' and group '239.1.1.1' are not of the same address family.",
    ],
    [
      { source: "0.0.0.0", group: "239.1.1.1", iif: "a", oifs: ["b"] },
      "Source '0.0.0.0' must be a unicast address.",
    ],
    [
      { source: "255.255.255.255", group: "239.1.1.1", iif: "a", oifs: ["b"] },
      "Source '255.255.255.255' must be a unicast address.",
    ],
    [{ group: "239.1.1.1", iif: "a", oifs: [] }, "At least one output interface is required."],
    [
      { group: "239.1.1.1", iif: "a", oifs: ["a"] },
      "Output interface 'a' is also the input interface.",
    ],
    [{ group: "239.1.1.1", iif: "a", oifs: ["b", "b:3"] }, "Output interface 'b' is given twice."],
    [
      { group: "239.1.1.1", iif: "a", oifs: ["b:0"] },
      "TTL threshold of 'b' must be 1 to 254 (forward when the packet's TTL is higher).",
    ],
    [
      { group: "239.1.1.1", iif: "a", oifs: ["b:255"] },
      "TTL threshold of 'b' must be 1 to 254 (forward when the packet's TTL is higher).",
    ],
    [
      { group: "239.1.1.1", iif: "a", oifs: ["b:x"] },
      "TTL threshold of 'b' must be 1 to 254 (forward when the packet's TTL is higher).",
    ],
    [
      { group: "ff0e::1", iif: "a", oifs: ["b:3"] },
      "IPv6 multicast routing has no per-route TTL threshold (output 'b'); omit it.",
    ],
    [
      { group: "239.1.1.1", iif: "a/b", oifs: ["c"] },
      "Input interface 'a/b' is not a valid interface name.",
    ],
    [
      { group: "239.1.1.1", iif: "a", oifs: ["0123456789abcdef"] },
      "Output interface '0123456789abcdef' is not a valid interface name.",
    ],
  ];
  for (const [input, problem] of bad) {
    assert.throws(
      () => parseRoute(input),
      (err: unknown) =>
        err instanceof InvalidRouteError && err.message === `Invalid argument: ${problem}`,
      problem,
    );
  }
});
