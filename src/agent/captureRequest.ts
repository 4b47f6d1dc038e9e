/**
 * Parsing and validation of a /capture query: `iface` (repeatable, IFACE or IFACE@NETNS as the agent names
 * namespaces), `filter` (a pcap-filter expression: printable ASCII, bounded length; libpcap compiles it),
 * `duration` (seconds, bounded), `count`. Pure: the interface's existence is checked by the server.
 */
import { parseTarget, TargetError, type CaptureTarget } from '../capture/target';

export interface CaptureRequest {
  targets: CaptureTarget[];
  filter: string;
  durationSec: number;
  count: number;
}

export interface CaptureRequestLimits {
  maxDurationSec: number;
  defaultDurationSec: number;
  maxInterfaces: number;
}

const MAX_FILTER = 1024;

/** A request the agent refuses, with the HTTP status and a one-line reason. */
export class BadCaptureRequest extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
    this.name = 'BadCaptureRequest';
  }
}

export function parseCaptureQuery(q: URLSearchParams, limits: CaptureRequestLimits): CaptureRequest {
  for (const k of q.keys()) {
    if (!['iface', 'filter', 'duration', 'count'].includes(k)) throw new BadCaptureRequest(400, `unknown parameter "${k}" (use iface, filter, duration, count)`);
  }
  const ifaces = q.getAll('iface');
  if (ifaces.length === 0) throw new BadCaptureRequest(400, 'name an interface: /capture?iface=IFACE[@NETNS]');
  if (ifaces.length > limits.maxInterfaces) throw new BadCaptureRequest(400, `at most ${limits.maxInterfaces} interfaces per stream`);
  const targets: CaptureTarget[] = [];
  for (const spec of ifaces) {
    // "host" is how the agent names its own namespace in metrics and stream interface names.
    const t = spec.endsWith('@host') ? spec.slice(0, -5) : spec;
    try {
      targets.push(parseTarget(t));
    } catch (e) {
      throw new BadCaptureRequest(400, e instanceof TargetError ? e.message : String(e));
    }
  }
  const filter = q.get('filter') ?? '';
  if (filter.length > MAX_FILTER) throw new BadCaptureRequest(400, `filter longer than ${MAX_FILTER} characters`);
  if (!/^[\x20-\x7e]*$/.test(filter)) throw new BadCaptureRequest(400, 'filter must be printable ASCII (a pcap-filter expression)');
  const durationSec = numberParam(q, 'duration', limits.defaultDurationSec);
  if (!(durationSec > 0 && durationSec <= limits.maxDurationSec)) {
    throw new BadCaptureRequest(400, `duration must be more than 0 and at most ${limits.maxDurationSec} seconds`);
  }
  const count = numberParam(q, 'count', 0);
  if (!(Number.isInteger(count) && count >= 0)) throw new BadCaptureRequest(400, 'count must be a whole number (0 = no limit)');
  return { targets, filter, durationSec, count };
}

function numberParam(q: URLSearchParams, name: string, dflt: number): number {
  const v = q.get(name);
  if (v === null || v === '') return dflt;
  if (!/^\d+(\.\d+)?$/.test(v)) throw new BadCaptureRequest(400, `${name} must be a number`);
  return Number(v);
}
