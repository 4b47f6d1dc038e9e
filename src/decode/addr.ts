/**
 * The project's one address module: text of addresses (RFC 5952 IPv6, dotted IPv4, MACs) as tcpdump and
 * iproute2 write them, and the strict parsing of address text (filter expressions, crafted frames,
 * topology files): anything that is not exactly an address gives undefined, never a guess.
 */

/** "10.244.1.2" → 0x0af40102; undefined unless four decimal octets 0..255. */
export function parseIp4(s: string): number | undefined {
  const parts = s.split('.');
  if (parts.length !== 4) return undefined;
  let v = 0;
  for (const p of parts) {
    if (!/^\d{1,3}$/.test(p)) return undefined;
    const n = Number(p);
    if (n > 255) return undefined;
    v = v * 256 + n;
  }
  return v;
}

/** IPv6 text (with "::" and an optional dotted IPv4 tail) → 16 bytes; undefined when not an address. */
export function parseIp6(s: string): Uint8Array | undefined {
  if (!/^[0-9A-Fa-f:.]+$/.test(s) || !s.includes(':')) return undefined;
  const halves = s.split('::');
  if (halves.length > 2) return undefined;
  const groups = (part: string): number[] | undefined => {
    if (part === '') return [];
    const out: number[] = [];
    const items = part.split(':');
    for (let i = 0; i < items.length; i++) {
      const it = items[i];
      if (i === items.length - 1 && it.includes('.')) {
        const v4 = parseIp4(it);
        if (v4 === undefined) return undefined;
        out.push(Math.floor(v4 / 65536), v4 % 65536);
      } else {
        if (!/^[0-9A-Fa-f]{1,4}$/.test(it)) return undefined;
        out.push(parseInt(it, 16));
      }
    }
    return out;
  };
  const head = groups(halves[0]);
  const tail = halves.length === 2 ? groups(halves[1]) : [];
  if (head === undefined || tail === undefined) return undefined;
  let all: number[];
  if (halves.length === 2) {
    const fill = 8 - head.length - tail.length;
    if (fill < 1) return undefined;
    all = [...head, ...new Array<number>(fill).fill(0), ...tail];
  } else {
    all = head;
  }
  if (all.length !== 8) return undefined;
  const out = new Uint8Array(16);
  for (let i = 0; i < 8; i++) {
    out[2 * i] = all[i] >> 8;
    out[2 * i + 1] = all[i] & 0xff;
  }
  return out;
}

/** "aa:bb:cc:dd:ee:ff" (also "-" or "." separated, as libpcap accepts) → 6 bytes. */
export function parseMac(s: string): Uint8Array | undefined {
  let hex: string;
  if (/^[0-9A-Fa-f]{1,2}([:-][0-9A-Fa-f]{1,2}){5}$/.test(s)) {
    hex = s
      .split(/[:-]/)
      .map((p) => p.padStart(2, '0'))
      .join('');
  } else if (/^[0-9A-Fa-f]{4}\.[0-9A-Fa-f]{4}\.[0-9A-Fa-f]{4}$/.test(s)) {
    hex = s.replace(/\./g, '');
  } else {
    return undefined;
  }
  const out = new Uint8Array(6);
  for (let i = 0; i < 6; i++) out[i] = parseInt(hex.slice(2 * i, 2 * i + 2), 16);
  return out;
}

// ---------------------------------------------------------------------------------------- text

export function ip4ToString(u32: number): string {
  return `${(u32 >>> 24) & 255}.${(u32 >>> 16) & 255}.${(u32 >>> 8) & 255}.${u32 & 255}`;
}

/** RFC 5952 text of an IPv6 address read from 16 bytes at buf[off]. */
export function ip6ToString(buf: Buffer, off: number): string {
  if (off < 0 || off + 16 > buf.length) return '?';
  const g: number[] = [];
  for (let i = 0; i < 8; i++) g.push((buf[off + 2 * i] << 8) | buf[off + 2 * i + 1]);
  return ip6GroupsToString(g);
}

/** RFC 5952: lowercase, no leading zeros, the longest (first on a tie) run of ≥ 2 zero groups as "::". */
export function ip6GroupsToString(g: readonly number[]): string {
  // IPv4-mapped addresses keep the dotted tail (RFC 5952 §5).
  if (g[0] === 0 && g[1] === 0 && g[2] === 0 && g[3] === 0 && g[4] === 0 && g[5] === 0xffff) {
    return `::ffff:${ip4ToString(((g[6] << 16) | g[7]) >>> 0)}`;
  }
  let bestStart = -1;
  let bestLen = 0;
  for (let i = 0; i < 8; ) {
    if (g[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && g[j] === 0) j++;
    if (j - i > bestLen) {
      bestStart = i;
      bestLen = j - i;
    }
    i = j;
  }
  if (bestLen < 2) return g.map((x) => x.toString(16)).join(':');
  const head = g.slice(0, bestStart).map((x) => x.toString(16)).join(':');
  const tail = g.slice(bestStart + bestLen).map((x) => x.toString(16)).join(':');
  return `${head}::${tail}`;
}

export function macToString(buf: Buffer, off: number): string {
  if (off < 0 || off + 6 > buf.length) return '?';
  let s = '';
  for (let i = 0; i < 6; i++) {
    const b = buf[off + i];
    s += (i ? ':' : '') + (b < 16 ? '0' : '') + b.toString(16);
  }
  return s;
}
