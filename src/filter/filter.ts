/**
 * Filters for records read from files and pipes, with libpcap's meaning: the expression is compiled by
 * libpcap itself (pcap_compile on a dead handle of the record's link type, exactly as `tcpdump -r` does) and
 * the classic-BPF program runs in JavaScript (bpf.ts). Every expression tcpdump accepts works, with tcpdump's
 * result. One extension, because libpcap 1.10 has no such primitive: a leading `vxlan [VNI] [and EXPR]` matches
 * VXLAN packets (UDP 4789/8472 as the decoder recognises them) and runs EXPR on the encapsulated frame.
 */
import { L, type PacketView } from '../decode/view';
import { compileBpf, PcapOpenError } from '../libpcap/handle';
import type { PacketRecord } from '../pcap/record';
import { bpfToFunction, BpfProgram, decodeInsns } from './bpf';

/** libpcap rejected the expression (or it cannot apply to a link type): one line with the expression. */
export class FilterError extends Error {
  constructor(
    readonly expression: string,
    message: string,
  ) {
    super(message);
    this.name = 'FilterError';
  }
}

const SNAPLEN = 262144;
const LINKTYPE_ETHERNET = 1;

function tryCompile(linktype: number, expr: string): Buffer | string {
  try {
    return compileBpf(linktype, SNAPLEN, expr);
  } catch (e) {
    if (e instanceof PcapOpenError) return e.message;
    throw e;
  }
}

/**
 * The one-line message for libpcap's complaint about `expr`. libpcap says only "syntax error": name the longest
 * leading part that does parse, so the user sees where the problem starts.
 */
export function describeFilterError(expr: string, libpcapMessage: string, linktype = LINKTYPE_ETHERNET): string {
  const why = libpcapMessage.replace(/^can't parse filter expression: /, '');
  let where = '';
  if (/syntax error/.test(why)) {
    const words = expr.trim().split(/\s+/);
    for (let k = words.length - 1; k > 0; k--) {
      const head = words.slice(0, k).join(' ');
      if (typeof tryCompile(linktype, head) !== 'string') {
        where = `; "${head}" parses, the problem is in "${words.slice(k).join(' ')}"`;
        break;
      }
    }
  }
  return `bad filter "${expr}": ${why} (libpcap)${where} — see man 7 pcap-filter`;
}

function compileFor(linktype: number, expr: string): BpfProgram {
  const r = tryCompile(linktype, expr);
  if (typeof r === 'string') throw new FilterError(expr, describeFilterError(expr, r, linktype));
  return bpfToFunction(decodeInsns(r));
}

/** A compiled filter: one BPF program per link type met (compiled when first needed). */
export class RecordFilter {
  private readonly programs = new Map<number, BpfProgram>();
  private lastLinktype = -1;
  private last: BpfProgram = () => false;

  /** inner: EXPR of `vxlan [VNI] and EXPR`, run on the encapsulated frame; vni -1 = any. */
  private constructor(
    private readonly expr: string,
    private readonly vxlan: { vni: number; inner: BpfProgram | null } | null,
  ) {}

  /** Compiles `expr` (throws FilterError with libpcap's message); '' or blanks = undefined (match all). */
  static compile(expr: string): RecordFilter | undefined {
    const text = expr.trim();
    if (text === '') return undefined;
    const vx = /^vxlan(?:\s+(\d+))?(?:\s+and\s+([\s\S]+))?$/i.exec(text);
    if (vx !== null) {
      const vni = vx[1] === undefined ? -1 : Number(vx[1]);
      if (vni > 0xffffff) throw new FilterError(text, `bad filter "${text}": VXLAN network identifier ${vni} is more than 24 bits`);
      return new RecordFilter(text, { vni, inner: vx[2] === undefined ? null : compileFor(LINKTYPE_ETHERNET, vx[2]) });
    }
    if (/\bvxlan\b/i.test(text)) {
      throw new FilterError(text, `bad filter "${text}": "vxlan" must come first ("vxlan [VNI] and EXPR"): libpcap 1.10 has no vxlan primitive, netscope adds this form only`);
    }
    const f = new RecordFilter(text, null);
    // Checked now, on Ethernet, so a mistake is reported before anything is read.
    f.programs.set(LINKTYPE_ETHERNET, compileFor(LINKTYPE_ETHERNET, text));
    return f;
  }

  private programFor(linktype: number): BpfProgram {
    let p = this.programs.get(linktype);
    if (p === undefined) {
      try {
        p = compileFor(linktype, this.expr);
      } catch (e) {
        // Remembered: the same link type is refused once, not recompiled for every record.
        const err = e;
        p = () => {
          throw err;
        };
      }
      this.programs.set(linktype, p);
    }
    this.lastLinktype = linktype;
    this.last = p;
    return p;
  }

  /** Whether the record (decoded into `view`) matches. Throws FilterError when the link type cannot take it. */
  matches(view: PacketView, rec: PacketRecord): boolean {
    const vx = this.vxlan;
    if (vx !== null) {
      if ((view.layers & L.VXLAN) === 0 || (vx.vni >= 0 && view.vni !== vx.vni)) return false;
      const inner = view.inner;
      if (vx.inner === null) return true;
      return inner !== null && vx.inner(inner.buf, inner.base, inner.caplen, inner.len);
    }
    const p = rec.linktype === this.lastLinktype ? this.last : this.programFor(rec.linktype);
    return p(rec.buf, rec.offset, rec.caplen, rec.len);
  }
}
