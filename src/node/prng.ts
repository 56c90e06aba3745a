// A small, fast, deterministic 32-bit generator (sfc32, Chris Doty-Humphrey's "small fast
// chaotic" design) and the seeding that makes each tensor's stream depend only on the base
// seed and the tensor's name — so adding a tensor or changing one shape never changes the
// values of the others.

/** FNV-1a over the UTF-16 code units of s, from a chosen offset basis. */
function fnv1a(s: string, basis: number): number {
  let h = basis >>> 0;
  for (let i = 0; i < s.length; i++) {
    h ^= s.charCodeAt(i);
    h = Math.imul(h, 0x0100_0193) >>> 0;
  }
  return h;
}

export class Sfc32 {
  // State words; exposed so hot loops can copy them into locals and write them back.
  a: number;
  b: number;
  c: number;
  counter: number;

  constructor(seed0: number, seed1: number, seed2: number) {
    this.a = seed0 >>> 0;
    this.b = seed1 >>> 0;
    this.c = seed2 >>> 0;
    this.counter = 1;
    // The first outputs of a fresh state are poorly mixed; the reference design discards 12.
    for (let i = 0; i < 12; i++) this.next();
  }

  /** Next uniformly distributed uint32. */
  next(): number {
    const t = (((this.a + this.b) | 0) + this.counter) | 0;
    this.counter = (this.counter + 1) | 0;
    this.a = this.b ^ (this.b >>> 9);
    this.b = (this.c + (this.c << 3)) | 0;
    this.c = ((this.c << 21) | (this.c >>> 11));
    this.c = (this.c + t) | 0;
    return t >>> 0;
  }

  /** The stream of tensor `name` under base seed `seed`. */
  static forTensor(seed: number, name: string): Sfc32 {
    return new Sfc32(seed, fnv1a(name, 0x811c_9dc5), fnv1a(name, 0x9e37_79b9 ^ seed));
  }
}
