// Logs each request field the gateway ignored, once per API key and field name, so an
// operator sees what clients send that Sirocco does not implement without a log line per
// request. Only the name is logged, never the value (it may hold user data), and names are
// cut short: they come from the client.
import { log } from '../telemetry/log.ts';

const MAX_NAME = 100;
// A bound on memory: past it the set starts over, and a name may be logged once more.
const MAX_REMEMBERED = 10_000;

export class IgnoredFieldLog {
  private readonly seen = new Set<string>();

  note(keyId: string, route: string, fields: readonly string[]): void {
    for (const raw of fields) {
      const field = raw.length > MAX_NAME ? `${raw.slice(0, MAX_NAME)}…` : raw;
      const id = `${keyId}\u0000${field}`;
      if (this.seen.has(id)) continue;
      if (this.seen.size >= MAX_REMEMBERED) this.seen.clear();
      this.seen.add(id);
      log('info', 'ignored unknown request field', { key_id: keyId, route, field });
    }
  }
}
