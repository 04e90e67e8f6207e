"""Byte-parallel helpers for the text parsers: one vector compare classifies 64 bytes, and
eight ASCII digits become an integer in a few multiplies (SWAR, "SIMD within a register").

Why: a byte-at-a-time parser spends most of its time on branches whose outcome depends on
the data (where a number ends, how many digits it has), and each wrong guess costs the CPU
~15-20 cycles. With a line's bytes classified at once, a number's extent is a bit count
and its value a fixed sequence of arithmetic, so the common line has no such branch.

The masks are built by LLVM vector instructions (numba intrinsics, so portable to any
target LLVM supports); loads are unaligned and little-endian, as on x86-64 and arm64.
Callers guarantee that every load stays inside the buffer.
"""
from __future__ import annotations

import sys

from llvmlite import ir
from numba import njit, types, uint64
from numba.extending import intrinsic

BLOCK = 64   # bytes classified by one call of `classify`
LITTLE_ENDIAN = sys.byteorder == "little"   # the digit arithmetic needs it; kernels take another path otherwise

# Every helper takes a byte address (`buf.ctypes.data` + offset), not an array: arrays passed
# into inlined functions cost numba two atomic reference-count updates a call, which for a
# line-sized piece of work is several times the work itself.


def _pointer(builder, address, element):
    return builder.inttoptr(address, element.as_pointer())


@intrinsic
def classify(typingctx, address):
    """Bit masks of the 64 bytes at `address`, bit i for byte i: (newline, separator (byte <= 32),
    '.', digit, other control character (below 32 but not tab, newline or CR))."""
    sig = types.UniTuple(types.uint64, 5)(types.uint64)

    def codegen(context, builder, signature, args):
        vty = ir.VectorType(ir.IntType(8), BLOCK)
        vec = builder.load(_pointer(builder, args[0], vty), align=1)

        def cmp(op, value):
            return builder.icmp_unsigned(op, vec, ir.Constant(vty, [value] * BLOCK))

        newline = cmp("==", 10)
        tab_or_cr = builder.or_(cmp("==", 9), cmp("==", 13))
        control = builder.and_(cmp("<", 32), builder.not_(builder.or_(tab_or_cr, newline)))
        digit = builder.and_(cmp(">=", 48), cmp("<=", 57))
        masks = [builder.bitcast(m, ir.IntType(BLOCK))
                 for m in (newline, cmp("<=", 32), cmp("==", 46), digit, control)]
        return context.make_tuple(builder, signature.return_type, masks)

    return sig, codegen


@intrinsic
def load_u64(typingctx, address):
    """The eight bytes at `address` as one little-endian integer (unaligned)."""
    sig = types.uint64(types.uint64)

    def codegen(context, builder, signature, args):
        return builder.load(_pointer(builder, args[0], ir.IntType(64)), align=1)

    return sig, codegen


@intrinsic
def load_u8(typingctx, address):
    """The byte at `address`."""
    sig = types.uint8(types.uint64)

    def codegen(context, builder, signature, args):
        return builder.load(_pointer(builder, args[0], ir.IntType(8)), align=1)

    return sig, codegen


@intrinsic
def popcount(typingctx, x):
    """The number of set bits of a uint64."""
    sig = types.uint64(types.uint64)

    def codegen(context, builder, signature, args):
        fn = builder.module.declare_intrinsic("llvm.ctpop", [ir.IntType(64)])
        return builder.call(fn, [args[0]])

    return sig, codegen


@intrinsic
def trailing_zeros(typingctx, x):
    """The index of the lowest set bit of a uint64; 64 for 0."""
    sig = types.uint64(types.uint64)

    def codegen(context, builder, signature, args):
        fn = builder.module.declare_intrinsic("llvm.cttz", [ir.IntType(64), ir.IntType(1)])
        return builder.call(fn, [args[0], ir.Constant(ir.IntType(1), 0)])

    return sig, codegen


@njit(cache=True, inline="always")
def eight_digits(word):
    """The value of eight ASCII digits, the first (most significant) in the lowest byte
    (Lemire's parse_eight_digits_unrolled: three multiplies, no loop)."""
    v = word - uint64(0x3030303030303030)
    v = v * uint64(10) + (v >> uint64(8))
    lo = (v & uint64(0x000000FF000000FF)) * uint64(100 + (1000000 << 32))
    hi = ((v >> uint64(16)) & uint64(0x000000FF000000FF)) * uint64(1 + (10000 << 32))
    return (lo + hi) >> uint64(32)


@njit(cache=True, inline="always")
def low_bytes(k):
    """A mask of the low k bytes, k = 0..8 (two shifts of 4k bits: one shift of 64 is undefined)."""
    half = k << uint64(2)
    return ~((~uint64(0) << half) << half)


@njit(cache=True, inline="always")
def digits_ending_at(end, count):
    """The value of the `count` (0..8) ASCII digits that end just before address `end`: the
    eight bytes before it, those before the digits replaced by '0' (reads end - 8 .. end - 1)."""
    pad = low_bytes(uint64(8) - count)
    return eight_digits((load_u64(end - uint64(8)) & ~pad) | (uint64(0x3030303030303030) & pad))
