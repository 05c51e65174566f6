import assert from "node:assert/strict";
import { encodeLine } from "../ipc/_wire.ts";
import { handleRequest, MrouteRequest, type ProtocolHooks } from "./protocol.ts";
import { type KernelOps, MulticastRouter } from "./router.ts";

/** A kernel that accepts everything: the protocol's behaviour, not the kernel's, is tested here. */
const kernel: KernelOps = {
  addVif() {},
  delVif() {},
  addMfcs: () => [],
  delMfcs: () => [],
};

function setup() {
  const router = new MulticastRouter(
    kernel,
    (name) => ["eth1", "eth2", "eth3"].includes(name) ? { ifindex: 5, multicast: true } : undefined,
  );
  let saves = 0;
  const hooks: ProtocolHooks = {
    save: () => saves++,
    show: () => ({ vifs: [], routes: [] }),
    subscribe: async function* () {},
  };
  const call = (request: unknown) => {
    const parsed = MrouteRequest.parse(request);
    const reply = handleRequest(parsed, router, hooks, new AbortController().signal);
    // What a client receives: some replies are sent as JSON text already.
    return JSON.parse(new TextDecoder().decode(encodeLine(reply)!)) as Record<string, unknown>;
  };
  return { router, call, saves: () => saves };
}

Deno.test("ADD_MFC and DEL_MFC answer as the Python MFC service did, and save the state", () => {
  const { call, saves } = setup();
  const add = {
    action: "ADD_MFC",
    payload: { source: "10.1.1.5", group: "239.10.20.30", iif: "eth1", oifs: ["eth2", "eth3"] },
  };
  assert.deepEqual(call(add), {
    status: "success",
    message: "MFC entry for (10.1.1.5, 239.10.20.30) added.",
  });
  assert.deepEqual(call(add), {
    status: "success",
    message: "MFC entry for (10.1.1.5, 239.10.20.30) already up to date.",
  });
  assert.equal(saves(), 1, "an unchanged route is not saved again");
  assert.deepEqual(
    call({ action: "DEL_MFC", payload: { source: "10.1.1.5", group: "239.10.20.30" } }),
    {
      status: "success",
      message: "MFC entry for (10.1.1.5, 239.10.20.30) deleted.",
    },
  );
  assert.throws(
    () =>
      call({ action: "ADD_MFC", payload: { group: "239.1.1.1", iif: "eth1", oifs: ["eth99"] } }),
    {
      message: "Invalid argument: Interface 'eth99' not found.",
    },
  );
});

Deno.test("APPLY with dry_run plans without changing anything; without it applies and says what changed", () => {
  const { router, call } = setup();
  const state = {
    routes: [{ group: "239.1.1.1", iif: "eth1", oifs: ["eth2"] }, {
      source: "10.0.0.1",
      group: "239.1.1.2",
      iif: "eth1",
      oifs: [{ name: "eth3", ttl: 4 }, "eth2"],
    }],
  };
  const dry = call({ action: "APPLY", payload: { state, dry_run: true } });
  assert.equal(dry.message, "Dry run: 2 routes added, 0 changed, 0 removed.");
  assert.equal(dry.dry_run, true);
  assert.equal(router.routes().length, 0);
  const done = call({ action: "APPLY", payload: { state } });
  assert.deepEqual(done, {
    status: "success",
    message: "Applied: 2 routes added, 0 changed, 0 removed.",
    dry_run: false,
    plan: {
      // The routes as APPLY takes them, normalized.
      add: [{ group: "239.1.1.1", iif: "eth1", oifs: ["eth2"] }, {
        source: "10.0.0.1",
        group: "239.1.1.2",
        iif: "eth1",
        oifs: ["eth2", "eth3:4"],
      }],
      change: [],
      remove: [],
      pin: [],
      unpin: [],
    },
  });
  const changed = call({
    action: "APPLY",
    payload: { state: { vifs: ["eth3"], routes: [{ ...state.routes[0]!, oifs: ["eth3"] }] } },
  });
  assert.deepEqual(changed.plan, {
    add: [],
    change: [{
      from: { group: "239.1.1.1", iif: "eth1", oifs: ["eth2"] },
      to: { group: "239.1.1.1", iif: "eth1", oifs: ["eth3"] },
    }],
    remove: [{ source: "10.0.0.1", group: "239.1.1.2", iif: "eth1", oifs: ["eth2", "eth3:4"] }],
    pin: ["eth3"],
    unpin: [],
  });
  const flush = call({ action: "FLUSH" });
  assert.equal(
    flush.message,
    "Flushed 1 route and 3 VIFs.",
    "eth1, and eth3 pinned in both families",
  );
});

Deno.test("MrouteRequest refuses unknown actions and malformed payloads", () => {
  for (
    const bad of [
      { action: "REBOOT" },
      { action: "ADD_MFC" },
      { action: "ADD_MFC", payload: { group: 5 } },
      { action: "ADD_VIF", payload: {} },
      {},
    ]
  ) {
    assert.equal(MrouteRequest.safeParse(bad).success, false, JSON.stringify(bad));
  }
  assert.equal(MrouteRequest.safeParse({ action: "SHOW" }).success, true);
  assert.equal(MrouteRequest.safeParse({ action: "SUBSCRIBE" }).success, true);
});
