/** JSON of a decoded PacketView, one object per packet, in the schema of docs/json-schema.md. */
import { formatTs, type PacketRecord } from '../pcap/record';
import { ip4ToString, ip6ToString, macToString } from './addr';
import { layerName, malformedText } from './problems';
import { tcpFlagsLetters } from './text';
import { L, MAX_VLAN_TAGS, PacketView, TUNNEL, TUNNEL_NAMES } from './view';

function layersJson(v: PacketView): string {
  const b = v.buf;
  const l = v.layers;
  const parts: string[] = [];
  if (l & L.ETH) {
    let eth = `"src":"${macToString(b, v.ethSrcOff)}","dst":"${macToString(b, v.ethDstOff)}","type":${v.ethType}`;
    if (v.vlanCount > 0) {
      const n = v.vlanCount < MAX_VLAN_TAGS ? v.vlanCount : MAX_VLAN_TAGS;
      const ids: number[] = [];
      for (let i = 0; i < n; i++) ids.push(v.vlanIds[i]);
      eth += `,"vlan":[${ids.join(',')}]`;
    }
    parts.push(`"eth":{${eth}}`);
  }
  if (l & L.ARP) {
    parts.push(
      `"arp":{"op":${v.arpOp},"sha":"${macToString(b, v.arpShaOff)}","spa":"${ip4ToString(v.arpSpa)}",` +
        `"tha":"${macToString(b, v.arpThaOff)}","tpa":"${ip4ToString(v.arpTpa)}"}`,
    );
  }
  if (l & L.IPV4) {
    parts.push(
      `"ipv4":{"src":"${ip4ToString(v.ip4Src)}","dst":"${ip4ToString(v.ip4Dst)}","proto":${v.ipProto},"ttl":${v.ipTtl},` +
        `"id":${v.ipId},"len":${v.ipTotalLen},"hlen":${v.ipHdrLen},"df":${v.ipDf},"mf":${v.ipMf},"frag":${v.ipFragOff}}`,
    );
  }
  if (l & L.IPV6) {
    parts.push(
      `"ipv6":{"src":"${ip6ToString(b, v.ip6SrcOff)}","dst":"${ip6ToString(b, v.ip6DstOff)}","next":${v.ip6Next},` +
        `"hlim":${v.ip6Hlim},"plen":${v.ip6Plen}}`,
    );
  }
  if (l & L.ICMP) {
    let s = `"type":${v.icmpType},"code":${v.icmpCode}`;
    if (v.icmpType === 0 || v.icmpType === 8) s += `,"id":${v.icmpId},"seq":${v.icmpSeq}`;
    if (l & L.ICMP_INNER) {
      s += `,"inner":{"src":"${ip4ToString(v.icmpInnerSrc)}","dst":"${ip4ToString(v.icmpInnerDst)}","proto":${v.icmpInnerProto}`;
      if (v.icmpInnerSport >= 0) s += `,"sport":${v.icmpInnerSport},"dport":${v.icmpInnerDport}`;
      s += '}';
    }
    parts.push(`"icmp":{${s}}`);
  }
  if (l & L.ICMPV6) {
    let s = `"type":${v.icmp6Type},"code":${v.icmp6Code}`;
    if (v.icmp6TargetOff >= 0) s += `,"target":"${ip6ToString(b, v.icmp6TargetOff)}"`;
    if (l & L.ICMP6_INNER) {
      s += `,"inner":{"src":"${ip6ToString(b, v.icmp6InnerSrcOff)}","dst":"${ip6ToString(b, v.icmp6InnerDstOff)}","proto":${v.icmpInnerProto}`;
      if (v.icmpInnerSport >= 0) s += `,"sport":${v.icmpInnerSport},"dport":${v.icmpInnerDport}`;
      s += '}';
    }
    parts.push(`"icmpv6":{${s}}`);
  }
  if (l & L.TCP) {
    parts.push(
      `"tcp":{"sport":${v.sport},"dport":${v.dport},"seq":${v.tcpSeq},"ack":${v.tcpAck},` +
        `"flags":"${tcpFlagsLetters(v.tcpFlags)}","win":${v.tcpWin},"hlen":${v.tcpHdrLen}}`,
    );
  }
  if (l & L.UDP) parts.push(`"udp":{"sport":${v.sport},"dport":${v.dport},"len":${v.udpLen}}`);
  if (l & L.VXLAN) parts.push(`"vxlan":{"vni":${v.vni}${innerJson(v)}}`);
  if (l & L.GENEVE) {
    parts.push(`"geneve":{"vni":${v.vni},"flags":${v.geneveFlags},"proto":${v.geneveProto},"optlen":${v.geneveOptLen}${innerJson(v)}}`);
  }
  if (l & L.IPIP) parts.push(`"ipip":{"version":${v.tunnelKind === TUNNEL.IPIP ? 4 : 6}${innerJson(v)}}`);
  if (l & L.GRE) {
    const fv = v.greFlags;
    let s = `"proto":${v.greProto},"flags":${fv},"hlen":${v.greHdrLen}`;
    if (fv & 0x8000) s += `,"checksum":${v.greChecksum}`;
    if (fv & 0x2000) s += `,"key":${v.greKey}`;
    if (fv & 0x1000) s += `,"seq":${v.greSeq}`;
    parts.push(`"gre":{${s}${l & L.ERSPAN ? '' : innerJson(v)}}`);
  }
  if (l & L.ERSPAN) {
    let s = `"type":${v.erspanType}`;
    if (v.erspanType > 1) {
      s += `,"session":${v.erspanSession},"vlan":${v.erspanVlan},"cos":${v.erspanCos},"en":${v.erspanEn},"t":${v.erspanTruncated}`;
      if (v.erspanType === 2) s += `,"index":${v.erspanIndex}`;
      else {
        s += `,"timestamp":${v.erspanTimestamp},"sgt":${v.erspanSgt},"hwid":${v.erspanHwId},"dir":${v.erspanDirection},` +
          `"gra":${v.erspanGranularity},"ft":${v.erspanFrameType},"o":${v.erspanPlatform}`;
      }
    }
    parts.push(`"erspan":{${s}${innerJson(v)}}`);
  }
  if (v.tunnelKind !== TUNNEL.NONE) {
    parts.push(`"tunnel":{"kind":"${TUNNEL_NAMES[v.tunnelKind]}"${v.tunnelId >= 0 ? `,"id":${v.tunnelId}` : ''}}`);
  }
  if (v.truncated !== 0) parts.push(`"truncated":"${layerName(v.truncated)}"`);
  else if (v.malformed !== 0) parts.push(`"malformed":${JSON.stringify(malformedText(v))}`);
  return parts.join(',');
}

/** ',"inner":{…}' for the frame a tunnel carries, when one was decoded (or cut short). */
function innerJson(v: PacketView): string {
  const inner = v.inner;
  if (inner === null || (inner.layers === 0 && inner.truncated === 0 && inner.malformed === 0)) return '';
  return `,"inner":{${layersJson(inner)}}`;
}

/** One JSON object (no trailing newline) in the schema of docs/json-schema.md; n is the 1-based frame number. */
export function toJson(view: PacketView, rec: PacketRecord, n: number): string {
  let s = `{"n":${n},"ts":"${formatTs(rec.tsSec, rec.tsNsec)}","caplen":${rec.caplen},"len":${rec.len}`;
  if (rec.iface !== undefined) s += `,"iface":${JSON.stringify(rec.iface)}`;
  const layers = layersJson(view);
  return layers ? `${s},${layers}}` : `${s}}`;
}
