/**
 * Classic BPF, run in JavaScript: a program compiled by libpcap (pcap_compile, see libpcap/handle.ts) is turned
 * once into a JavaScript function — one `case` per instruction, constants inlined, fall-through between
 * consecutive instructions — that V8 compiles like any hot function. Semantics are those of the kernel's and
 * libpcap's interpreters (bpf_filter.c): loads past the captured length reject the packet, division by zero
 * rejects, the packet matches when the returned snapshot length is not 0.
 */

/** Runs over one frame: bytes `buf[off .. off+caplen)`, original length `len`. */
export type BpfProgram = (buf: Uint8Array, off: number, caplen: number, len: number) => boolean;

export interface BpfInsn {
  code: number;
  jt: number;
  jf: number;
  k: number;
}

/** Decodes libpcap's instruction array (8 bytes each: code u16, jt u8, jf u8, k u32; little-endian). */
export function decodeInsns(raw: Buffer): BpfInsn[] {
  const out: BpfInsn[] = [];
  for (let o = 0; o + 8 <= raw.length; o += 8) out.push({ code: raw.readUInt16LE(o), jt: raw[o + 2], jf: raw[o + 3], k: raw.readUInt32LE(o + 4) });
  return out;
}

// Instruction classes and fields (bpf.h).
const LD = 0x00;
const LDX = 0x01;
const ST = 0x02;
const STX = 0x03;
const ALU = 0x04;
const JMP = 0x05;
const RET = 0x06;
const MISC = 0x07;

function load(size: number, at: string): [string, number] | null {
  switch (size) {
    case 0x00: // W
      return [`((p[o + ${at}] << 24) | (p[o + ${at} + 1] << 16) | (p[o + ${at} + 2] << 8) | p[o + ${at} + 3]) >>> 0`, 4];
    case 0x08: // H
      return [`(p[o + ${at}] << 8) | p[o + ${at} + 1]`, 2];
    case 0x10: // B
      return [`p[o + ${at}]`, 1];
    default:
      return null;
  }
}

/** One instruction as JavaScript statements; pc is the instruction's index. Throws on an unknown opcode. */
function statement(ins: BpfInsn, pc: number, n: number): string {
  const { code, k } = ins;
  const bad = (): never => {
    throw new Error(`unsupported BPF instruction 0x${code.toString(16)} at ${pc}`);
  };
  const jump = (to: number): string => {
    if (to >= n) bad();
    return to === pc + 1 ? '' : `pc = ${to}; continue;`;
  };
  switch (code & 0x07) {
    case LD:
    case LDX: {
      const dst = (code & 0x07) === LD ? 'A' : 'X';
      const mode = code & 0xe0;
      if (mode === 0x00) return `${dst} = ${k >>> 0};`; // IMM
      if (mode === 0x80) return `${dst} = len >>> 0;`; // LEN
      if (mode === 0x60) return `${dst} = M[${k & 15}];`; // MEM
      if (dst === 'X' && mode === 0xa0) {
        // MSH: X = 4 * (P[k] & 0xf)
        return `if (${k} + 1 > cap) return false; X = (p[o + ${k}] & 15) << 2;`;
      }
      if (dst === 'A' && (mode === 0x20 || mode === 0x40)) {
        const l = load(code & 0x18, mode === 0x20 ? String(k) : 'i');
        if (l === null) return bad();
        const [expr, size] = l;
        if (mode === 0x20) return `if (${k} + ${size} > cap) return false; A = ${expr};`;
        return `i = X + ${k}; if (i + ${size} > cap) return false; A = ${expr};`;
      }
      return bad();
    }
    case ST:
      return `M[${k & 15}] = A;`;
    case STX:
      return `M[${k & 15}] = X;`;
    case ALU: {
      const src = code & 0x08 ? 'X' : String(k >>> 0);
      switch (code & 0xf0) {
        case 0x00:
          return `A = (A + ${src}) >>> 0;`;
        case 0x10:
          return `A = (A - ${src}) >>> 0;`;
        case 0x20:
          return `A = Math.imul(A, ${src}) >>> 0;`;
        case 0x30:
          return code & 0x08 ? `if (X === 0) return false; A = Math.floor(A / X) >>> 0;` : k === 0 ? 'return false;' : `A = Math.floor(A / ${k >>> 0}) >>> 0;`;
        case 0x90:
          return code & 0x08 ? `if (X === 0) return false; A = (A % X) >>> 0;` : k === 0 ? 'return false;' : `A = (A % ${k >>> 0}) >>> 0;`;
        case 0x40:
          return `A = (A | ${src}) >>> 0;`;
        case 0x50:
          return `A = (A & ${src}) >>> 0;`;
        case 0xa0:
          return `A = (A ^ ${src}) >>> 0;`;
        case 0x60:
          return code & 0x08 ? `A = X < 32 ? (A << X) >>> 0 : 0;` : k < 32 ? `A = (A << ${k}) >>> 0;` : 'A = 0;';
        case 0x70:
          return code & 0x08 ? `A = X < 32 ? A >>> X : 0;` : k < 32 ? `A = A >>> ${k};` : 'A = 0;';
        case 0x80:
          return `A = (-A) >>> 0;`;
        default:
          return bad();
      }
    }
    case JMP: {
      const op = code & 0xf0;
      if (op === 0x00) return jump(pc + 1 + k); // JA
      const src = code & 0x08 ? 'X' : String(k >>> 0);
      let cond: string;
      switch (op) {
        case 0x10:
          cond = `A === ${src}`;
          break;
        case 0x20:
          cond = `A > ${src}`;
          break;
        case 0x30:
          cond = `A >= ${src}`;
          break;
        case 0x40:
          cond = `(A & ${src}) !== 0`;
          break;
        default:
          return bad();
      }
      const t = pc + 1 + ins.jt;
      const f = pc + 1 + ins.jf;
      if (t === f) return jump(t);
      if (t >= n || f >= n) return bad();
      if (t === pc + 1) return `if (!(${cond})) { pc = ${f}; continue; }`;
      if (f === pc + 1) return `if (${cond}) { pc = ${t}; continue; }`;
      return `if (${cond}) { pc = ${t}; continue; } pc = ${f}; continue;`;
    }
    case RET: {
      const rv = code & 0x18;
      if (rv === 0x00) return `return ${(k >>> 0) !== 0};`;
      if (rv === 0x10) return 'return A !== 0;';
      if (rv === 0x08) return 'return X !== 0;';
      return bad();
    }
    case MISC:
      return (code & 0xf8) === 0x00 ? 'X = A;' : (code & 0xf8) === 0x80 ? 'A = X;' : bad();
    default:
      return bad();
  }
}

/** Builds the JavaScript function for a libpcap program. Throws on an instruction it does not know. */
export function bpfToFunction(insns: BpfInsn[]): BpfProgram {
  const n = insns.length;
  if (n === 0) return () => false;
  const cases = insns.map((ins, pc) => `case ${pc}: ${statement(ins, pc, n)}`).join('\n');
  // Jumps only go forward, so the switch is entered at most once per jump; cases fall through in order.
  const body = `
    return function bpf(p, o, cap, len) {
      let A = 0, X = 0, i = 0, pc = 0;
      for (;;) {
        switch (pc) {
${cases}
        default: return false;
        }
      }
    };`;
  // eslint-disable-next-line @typescript-eslint/no-implied-eval
  const make = new Function('M', body) as (m: Uint32Array) => BpfProgram;
  return make(new Uint32Array(16));
}
