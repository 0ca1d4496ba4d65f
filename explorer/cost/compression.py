"""What gradient (or momentum) compression puts on the wire and what it costs to compute.

Wire bits per element (the message an all-reduce moves):
  * FP32 32, FP16/BF16 16;
  * 1-bit sign: 1 bit per element + one FP32 scale per message of `elements` (Seide et al. 2014;
    1-bit Adam, Tang et al. 2021);
  * top-k: an FP32 value + a 32-bit index per kept element, 64 x fraction (Stich et al. 2018).

Compression compute, per element and step, in HBM bytes moved by memory-bound kernels (they run
at HBM bandwidth; none of them does enough arithmetic per byte to be compute-bound):
  * a cast (FP32 -> FP16 for the wire): read 4, write 2;
  * 1-bit with error compensation (1-bit Adam's compressed all-reduce, Tang et al. 2021 sec. 4 and
    Algorithm 1): the worker reads its FP32 momentum and error buffer and writes the error buffer and
    the packed signs (4 + 4 + 4 + 1/8); as server of 1/N of the vector it reads the N compressed
    chunks, writes the FP32 sum, reads and writes its error buffer and writes the packed result
    (1/8 + (4 + 8 + 1/8)/N per element of the whole vector); finally every worker unpacks the
    gathered result into its FP32 momentum (1/8 + 4). In all about 16.4 + 12.1/N bytes.
  * top-k with error compensation: a radix select reads the FP32 vector about four times (one pass
    per 8-bit digit of the key; Alabi et al. 2012, 'Fast k-selection algorithms for graphics
    processing units', JEA 17) plus the error buffer read and write, the gather of the kept entries,
    and the densify on receipt (4 x 4 + 4 + 4 + 4 = 28 bytes).
"""

from __future__ import annotations

SCHEMES = ("fp32", "fp16", "onebit", "topk")


def bits_per_element(scheme: str, topk_fraction: float = 0.01, elements: float = 1 << 20) -> float:
    """Wire bits per gradient element of a scheme (keys of SCHEMES)."""
    if scheme not in SCHEMES:
        raise ValueError(f"scheme {scheme!r} not in {SCHEMES}")
    return {"fp32": 32.0, "fp16": 16.0, "onebit": 1.0 + 32.0 / elements, "topk": 64.0 * topk_fraction}[scheme]


def compression_bytes_per_element(scheme: str, participants: int, native_bits: float = 16.0) -> float:
    """HBM bytes per element per step spent compressing and decompressing (see the module docstring);
    `native_bits` is the precision the gradients already have (a cast to it costs nothing)."""
    n = max(int(participants), 1)
    if scheme == "fp32" or (scheme == "fp16" and native_bits <= 16):
        return 0.0
    if scheme == "fp16":
        return 4.0 + 2.0
    if scheme == "onebit":
        return (4 + 4 + 4 + 1 / 8) + (1 / 8 + (4 + 8 + 1 / 8) / n) + (1 / 8 + 4)
    if scheme == "topk":
        return 4 * 4.0 + 4.0 + 4.0 + 4.0 + 4.0
    raise ValueError(f"scheme {scheme!r} not in {SCHEMES}")


def compression_time(scheme: str, elements: float, participants: int, memory_bandwidth: float,
                     native_bits: float = 16.0) -> float:
    """Seconds per step of the compression kernels on one device: bytes moved / HBM (or DRAM) bandwidth."""
    return elements * compression_bytes_per_element(scheme, participants, native_bits) / memory_bandwidth
