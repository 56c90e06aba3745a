// Whether this host runs sirocco-relaxed.wasm (native/wasm/build.mjs) correctly: a 60-byte
// module computes one i16x8.relaxed_dot_i8x16_i7x16_s — the instruction the relaxed Q4_0
// kernel uses — on signed bytes × bytes in [0, 127], where the result is defined exactly, and
// compares it with the sums. A host without relaxed SIMD fails to compile it; Node 20's V8
// with --experimental-wasm-relaxed-simd compiles it and returns twice the sums. Portable, but
// an edge runtime that allows no code generation from bytes answers false (workerd and
// Cloudflare choose at bundle time: src/edge/bundle_workerd.ts).
const A = [-127, 127, -1, 5, 100, -100, 3, -3, 0, 7, -8, 1, 64, -64, 127, -127];
const B = [127, 126, 1, 0, 15, 3, 126, 2, 9, 0, 15, 127, 64, 1, 0, 33];

const v128Const = (bytes: number[]) => [0xfd, 0x0c, ...bytes.map((b) => b & 0xff)];
const i16Bytes = (lanes: number[]) => lanes.flatMap((v) => [v & 0xff, (v >> 8) & 0xff]);

// () → i32: all_true(relaxed_dot(A, B) == the sums).
function probeModule(): Uint8Array<ArrayBuffer> {
  const sums = Array.from({ length: 8 }, (_, k) => A[2 * k]! * B[2 * k]! + A[2 * k + 1]! * B[2 * k + 1]!);
  const code = [
    ...v128Const(A),
    ...v128Const(B),
    0xfd, 0x92, 0x02, // i16x8.relaxed_dot_i8x16_i7x16_s
    ...v128Const(i16Bytes(sums)),
    0xfd, 0x2d, // i16x8.eq
    0xfd, 0x83, 0x01, // i16x8.all_true
    0x0b, // end
  ];
  const body = [0x00, ...code]; // no locals
  return new Uint8Array([
    0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00, // magic, version 1
    0x01, 0x05, 0x01, 0x60, 0x00, 0x01, 0x7f, // types: () → i32
    0x03, 0x02, 0x01, 0x00, // functions: one of type 0
    0x07, 0x05, 0x01, 0x01, 0x66, 0x00, 0x00, // exports: "f" = function 0
    0x0a, body.length + 2, 0x01, body.length, ...body, // code (every length < 128: one LEB byte)
  ]);
}

let answer: boolean | null = null;

export function hostHasRelaxedDot(): boolean {
  if (answer !== null) return answer;
  try {
    const instance = new WebAssembly.Instance(new WebAssembly.Module(probeModule()), {});
    answer = (instance.exports.f as () => number)() === 1;
  } catch {
    answer = false;
  }
  return answer;
}
