/**
 * The daemon's subscription events in words, one line each: what `netkit mroute monitor` prints
 * and the lab's timeline shows.
 *
 * @module
 */

/** An output interface in words: its name, with its TTL threshold when it is not 1 (IPv4). */
export function oifText(o: { name: string; ttl: number }, family: number): string {
  return family === 4 && o.ttl !== 1 ? `${o.name}(ttl ${o.ttl})` : o.name;
}

/** A route as events carry it. */
interface EventRoute {
  family: number;
  source: string;
  group: string;
  iif: string;
  oifs: { name: string; ttl: number }[];
}

/** One subscription event as a line of text. */
export function eventText(event: Record<string, unknown>): string {
  const name = String(event.event).replace("_", " ");
  switch (event.event) {
    case "upcall":
      return `upcall ${event.kind} (${event.source}, ${event.group}) on ${
        event.iif ?? `vif ${event.vif}`
      }`;
    case "route_added":
    case "route_changed":
    case "route_removed": {
      const r = event.route as EventRoute;
      return `${name}: (${r.source}, ${r.group}) iif ${r.iif} oifs ${
        r.oifs.map((o) => oifText(o, r.family)).join(" ")
      }`;
    }
    case "vif_added":
    case "vif_removed":
      return `${name}: IPv${event.family} vif ${event.vif} ${event.name}`;
    case "interface_gone":
      return `interface ${event.name} gone; waiting: ${
        (event.routes as string[]).join(" ") || "no routes"
      }`;
    case "interface_back":
      return `interface ${event.name} back; reinstalled: ${
        (event.routes as string[]).join(" ") || "no routes"
      }`;
    case "dropped":
      return `(${event.count} events dropped: this reader was too slow)`;
    default:
      return JSON.stringify(event);
  }
}
