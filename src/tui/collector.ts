/**
 * The capture side of the dashboard: every record is decoded into one reused PacketView and added to the
 * shared FlowTable (the same engine `netscope read --flows` uses), counted, and copied into a small ring of
 * recent packets. Nothing here formats text or allocates per packet; the dashboard takes snapshots on its
 * own clock.
 */
import { FlowTable, type FlowRecord, type FlowSnapshot, type FlowSort } from '../analysis/flows';
import { decodeRecord } from '../decode/decode';
import { formatLine } from '../decode/format';
import { PacketView } from '../decode/view';
import type { PacketRecord } from '../pcap/record';
import { FlowMatcher, PacketRing } from './packetRing';

export interface CollectorOptions {
  /** Flows idle this long leave the table (default 120 s). */
  idleTimeoutSec?: number;
  maxFlows?: number;
  /** Packets kept for the detail view of a flow opened later (default 4096). */
  recentPackets?: number;
  /** Packets kept for the open detail flow (default 200). */
  detailPackets?: number;
}

export class TrafficCollector {
  readonly flows: FlowTable;
  /** Everything captured, and what was captured on the first target (the bridge) alone. */
  packets = 0;
  bytes = 0;
  firstTargetPackets = 0;
  firstTargetBytes = 0;
  /** Changes whenever the watched flow's kept packets change (the view re-formats only then). */
  detailVersion = 0;
  private readonly view = new PacketView();
  private readonly recent: PacketRing;
  private readonly detailRing: PacketRing;
  private detail: FlowMatcher | undefined;

  constructor(opts: CollectorOptions = {}) {
    this.flows = new FlowTable({ idleTimeoutSec: opts.idleTimeoutSec ?? 120, maxFlows: opts.maxFlows ?? 200_000, rateIntervalSec: 1 });
    this.recent = new PacketRing(opts.recentPackets ?? 4096);
    this.detailRing = new PacketRing(opts.detailPackets ?? 200);
  }

  /** The per-packet path: decode, account, remember. */
  add(rec: PacketRecord): void {
    const v = decodeRecord(this.view, rec);
    this.flows.add(v, rec);
    this.packets++;
    this.bytes += rec.len;
    if (rec.ifIndex === 0) {
      this.firstTargetPackets++;
      this.firstTargetBytes += rec.len;
    }
    this.recent.push(rec);
    if (this.detail !== undefined && this.detail.matches(v)) {
      this.detailRing.push(rec);
      this.detailVersion++;
    }
  }

  /** Expires idle flows at wall time `nowSec` (also advances the rate clock when traffic stops) and snapshots. */
  snapshot(nowSec: number, sort: FlowSort, top: number): FlowSnapshot {
    this.flows.expire(nowSec);
    return this.flows.snapshot({ sort, top });
  }

  /** Starts keeping the packets of `flow`, seeded with those still in the recent ring. */
  watchFlow(flow: FlowRecord): void {
    this.detail = new FlowMatcher(flow);
    this.detailRing.clear();
    const v = new PacketView();
    this.recent.forEach((rec) => {
      if (this.detail?.matches(decodeRecord(v, rec))) this.detailRing.push(rec);
    });
    this.detailVersion++;
  }

  unwatchFlow(): void {
    this.detail = undefined;
    this.detailRing.clear();
    this.detailVersion++;
  }

  /** The watched flow's kept packets as one-line decodes, oldest first (built only when asked). */
  detailLines(): string[] {
    const out: string[] = [];
    const v = new PacketView();
    this.detailRing.forEach((rec) => {
      const line = formatLine(decodeRecord(v, rec), rec);
      const where = rec.iface !== undefined ? `${rec.iface} ` : '';
      for (const part of line.split('\n')) out.push(`${where}${part}`);
    });
    return out;
  }
}
