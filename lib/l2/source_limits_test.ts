import assert from "node:assert/strict";
import { sourceKey, SourceLimits } from "./source_limits.ts";

function limits(extra: Partial<ConstructorParameters<typeof SourceLimits>[0]> = {}) {
  return new SourceLimits({
    maxConnections: 4,
    maxConnectionsPerSource: 2,
    maxHandshakes: 3,
    maxHandshakesPerSource: 2,
    authFailuresPerMinute: 2,
    ...extra,
  });
}

Deno.test("sourceKey groups IPv6 by /64, unwraps IPv4-mapped addresses and keeps IPv4", () => {
  assert.equal(sourceKey("192.0.2.7"), "192.0.2.7");
  assert.equal(sourceKey("::ffff:192.0.2.7"), "192.0.2.7");
  assert.equal(sourceKey("2001:db8:1:2:aaaa::1"), "2001:db8:1:2::/64");
  assert.equal(sourceKey("2001:db8:1:2:bbbb::9"), "2001:db8:1:2::/64");
  assert.notEqual(sourceKey("2001:db8:1:3::1"), sourceKey("2001:db8:1:2::1"));
});

Deno.test("SourceLimits refuses past the totals before a source is known, and counts nothing then", () => {
  const l = limits();
  for (let i = 0; i < 3; i++) assert.equal(l.open(), null);
  assert.equal(l.open(), "handshakes");
  l.handshakeDone(null);
  assert.equal(l.open(), null);
  assert.equal(l.open(), "connections");
  assert.equal(l.connections, 4);
  l.closed(null, 0);
  assert.equal(l.connections, 3);
});

Deno.test("SourceLimits bounds connections and handshakes per source, not across sources", () => {
  const l = limits({ maxConnections: 10, maxHandshakes: 10, maxHandshakesPerSource: 5 });
  for (let i = 0; i < 2; i++) {
    l.open();
    assert.equal(l.attach("a", 0), null);
  }
  l.open();
  assert.equal(l.attach("a", 0), "connections_per_source");
  l.closed(null, 0);
  l.open();
  assert.equal(l.attach("b", 0), null);
  l.handshakeDone("a");
  l.closed("a", 0);
  l.open();
  assert.equal(l.attach("a", 0), null, "a closed connection frees its place");
});

Deno.test("SourceLimits cuts a source off after its failed authentications until the budget refills", () => {
  const l = limits({ maxConnections: 10, maxHandshakes: 10 });
  for (let i = 0; i < 2; i++) {
    l.open();
    assert.equal(l.attach("a", 0), null);
    l.authFailed("a", 0);
    l.handshakeDone("a");
    l.closed("a", 0);
  }
  l.open();
  assert.equal(l.attach("a", 1000), "auth_failures");
  assert.equal(l.attach("b", 1000), null, "another source is not affected");
  assert.equal(l.attach("a", 31_000), null, "one failure refilled after 30 s at 2 per minute");
});

Deno.test("SourceLimits keeps a bounded table of sources, forgetting idle ones first", () => {
  const l = limits({ maxConnections: 100, maxHandshakes: 100, maxSources: 2 });
  for (const source of ["a", "b"]) {
    l.open();
    l.attach(source, 0);
    l.authFailed(source, 0);
    l.handshakeDone(source);
    l.closed(source, 0);
  }
  assert.equal(l.sources, 2, "failed sources are remembered");
  l.open();
  assert.equal(l.attach("c", 0), null, "the oldest idle source gives way");
  assert.equal(l.sources, 2);
  l.open();
  assert.equal(l.attach("d", 0), null);
  l.open();
  assert.equal(l.attach("e", 0), "sources", "no idle source left to forget");
});
