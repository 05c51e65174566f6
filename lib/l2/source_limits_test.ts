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

/** A connection from `source` that completes its handshake at `now` (or is refused). */
function connect(l: SourceLimits, source: string, now: number): string | null {
  assert.equal(l.open(), null);
  const refused = l.attach(source, now);
  if (refused !== null) {
    l.handshakeDone(null);
    l.closed(null, now);
    return refused;
  }
  l.handshakeDone(source);
  return null;
}

Deno.test("SourceLimits.sweep forgets idle sources once their failures are a minute old", () => {
  const l = limits({ authFailuresPerMinute: 1 });
  assert.equal(connect(l, "192.0.2.1", 0), null);
  l.authFailed("192.0.2.1", 0);
  l.closed("192.0.2.1", 0);
  assert.equal(l.sources, 1, "a source with a fresh failure is kept");
  l.sweep(30_000);
  assert.equal(l.sources, 1, "for its minute");
  assert.equal(connect(l, "192.0.2.1", 30_000), "auth_failures");
  l.sweep(60_000);
  assert.equal(l.sources, 0, "then forgotten without another close");
});

Deno.test("SourceLimits makes room from idle sources without recent failures first", () => {
  const l = limits({ authFailuresPerMinute: 1, maxSources: 2 });
  assert.equal(connect(l, "192.0.2.1", 0), null);
  assert.equal(connect(l, "192.0.2.2", 0), null);
  l.authFailed("192.0.2.2", 0);
  l.closed("192.0.2.2", 0);
  l.authFailed("192.0.2.1", 50_000); // the oldest entry, its failure recent at 61 s
  l.closed("192.0.2.1", 50_000);
  assert.equal(connect(l, "192.0.2.3", 61_000), null, "room made from .2, whose failure is old");
  assert.equal(connect(l, "192.0.2.1", 61_000), "auth_failures", ".1's recent one is kept");
  // Nothing idle without a recent failure: the oldest idle source goes rather than everyone
  // new being refused (availability over a minute's memory of one failure).
  l.authFailed("192.0.2.3", 61_000);
  l.closed("192.0.2.3", 61_000);
  assert.equal(connect(l, "192.0.2.4", 62_000), null);
  assert.equal(l.sources, 2);
});
