"""What gradient (or momentum) compression puts on the wire and what it costs to compute.

Message bits per gradient element (what ONE worker's compressed message holds, not what the collective moves):
  * FP32 32, FP16/BF16 16;
  * 1-bit sign: 1 bit per element + one FP32 scale per message of `elements` (Seide et al. 2014;
    1-bit Adam, Tang et al. 2021);
  * top-k: an FP32 value + a 32-bit index per kept element, 64 x fraction (Stich et al. 2018).

What the synchronisation moves (bytes each worker receives, N workers, message M):
  * dense FP32/FP16: an all-reduce, 2 (N-1)/N x M per worker.
  * 1-bit: 1-bit Adam's compressed all-reduce (Tang et al. 2021, Algorithm 1; DeepSpeed's
    NcclBackend.compressed_allreduce, deepspeed/runtime/comm/nccl.py: dist.all_to_all_single of the packed
    signs, all_gather of the scales, then all_gather of the servers' re-compressed chunks) is an all-to-all of
    the N sign chunks of M/N then an all-gather of the N re-compressed chunks, (N-1)/N M each: the all-reduce's
    volume per worker, but not its path. The all-to-all sends every block straight to its owner, so each GPU
    pushes (N - k)/N M through its own NIC (k GPUs a node), where a ring all-reduce over rails puts about
    2 M / k on each (explorer/cost/collectives.nccl_all_to_all_time): on 8-GPU nodes the all-to-all loads a NIC
    about 4x as much as the all-reduce of the same message (ALLTOALL_SCHEMES).
  * top-k: NOT an all-reduce. Every worker keeps a different index set, so a ring reduce-scatter of (index,
    value) pairs does not stay k pairs long (the union grows at every hop, up to dense); the implementations
    all-gather the pairs instead: DGC (Lin et al. ICLR 2018; its code, synxlin/deep-gradient-compression
    dgc/compression.py, DGCCompressor.communicate -> horovod allgather_async of values and of indices),
    Horovod (docs/concepts.md: "Allgather is used to collect values of sparse tensors") and PyTorch's sparse
    all-reduce (ProcessGroupGloo AsyncSparseAllreduceWork: allgather_indices / allgather_values; pytorch issue
    #22226). Each worker receives the other N-1 workers' k pairs, (N-1) k (value + index) bytes: it grows with N
    and exceeds the dense all-reduce's 2 (N-1)/N M_dense once N > 2 M_dense / (k (value + index)) (Li & Hoefler,
    PPoPP 2022, 'Near-optimal sparse allreduce' (Ok-Topk): the all-gather scheme's volume is linear in the
    P workers; Shi et al. ICDCS 2019, gTop-k, and Renggli et al. SC 2019, SparCML, on the same growth). The
    sparse all-reduces that bound it change the algorithm (gTop-k keeps only a global top-k, SparCML switches
    to dense once the union fills, Ok-Topk splits the index space among the workers); this model prices the
    all-gather the common implementations (DGC, Horovod, PyTorch) run.

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
    processing units', JEA 17) plus the error buffer read and write, the pass that gathers the kept
    entries, and zeroing the dense result on receipt (4 x 4 + 4 + 4 + 4 + 4 = 32 bytes); then the
    scatter-add of the N k gathered pairs into it (DGC's decompress: grad.zero_().index_put_(indices,
    values, accumulate=True)): each pair read (value + index) and its dense element read and written,
    N x fraction x (8 + 8) bytes per element. Counted as streamed bytes; scattered writes touch whole
    32-byte sectors, so the scatter is a lower bound.
"""

from __future__ import annotations

SCHEMES = ("fp32", "fp16", "onebit", "topk")
TOPK_PAIR_BYTES = 8.0
"""Bytes of one kept top-k entry on the wire: an FP32 value + a 32-bit index (64 bits, as bits_per_element)."""
ALLGATHER_SCHEMES = ("topk",)
"""Schemes whose synchronisation is an all-gather of each worker's message, not an all-reduce."""
ALLTOALL_SCHEMES = ("onebit",)
"""Schemes whose synchronisation is an all-to-all of the message then an all-gather of its reduced chunks (1-bit
Adam's compressed all-reduce), not an all-reduce."""


def bits_per_element(scheme: str, topk_fraction: float = 0.01, elements: float = 1 << 20) -> float:
    """Wire bits per gradient element of a scheme (keys of SCHEMES)."""
    if scheme not in SCHEMES:
        raise ValueError(f"scheme {scheme!r} not in {SCHEMES}")
    return {"fp32": 32.0, "fp16": 16.0, "onebit": 1.0 + 32.0 / elements, "topk": 64.0 * topk_fraction}[scheme]


def compression_bytes_per_element(scheme: str, participants: int, native_bits: float = 16.0,
                                  topk_fraction: float = 0.01) -> float:
    """HBM bytes per element per step spent compressing and decompressing (see the module docstring);
    `native_bits` is the precision the gradients already have (a cast to it costs nothing); top-k scatters the
    N x topk_fraction pairs per element it gathered."""
    n = max(int(participants), 1)
    if scheme == "fp32" or (scheme == "fp16" and native_bits <= 16):
        return 0.0
    if scheme == "fp16":
        return 4.0 + 2.0
    if scheme == "onebit":
        return (4 + 4 + 4 + 1 / 8) + (1 / 8 + (4 + 8 + 1 / 8) / n) + (1 / 8 + 4)
    if scheme == "topk":
        return 4 * 4.0 + 4.0 + 4.0 + 4.0 + 4.0 + n * topk_fraction * (TOPK_PAIR_BYTES + 8.0)
    raise ValueError(f"scheme {scheme!r} not in {SCHEMES}")


def compression_time(scheme: str, elements: float, participants: int, memory_bandwidth: float,
                     native_bits: float = 16.0, topk_fraction: float = 0.01) -> float:
    """Seconds per step of the compression kernels on one device: bytes moved / HBM (or DRAM) bandwidth."""
    return elements * compression_bytes_per_element(scheme, participants, native_bits,
                                                    topk_fraction) / memory_bandwidth


# --- what the synchronisation moves (module docstring, 'What the synchronisation moves') -----------------------
def topk_message_bytes(elements: float, fraction: float) -> float:
    """One worker's top-k message: k = fraction x elements (value, index) pairs, k x 8 bytes."""
    return float(elements) * float(fraction) * TOPK_PAIR_BYTES


def topk_allgather_bytes(elements: float, fraction: float, participants: int) -> float:
    """The all-gather's whole result, N x k x 8 bytes (every worker ends with all N messages): the M of an
    all-gather in explorer/cost/collectives.py (all_gather_time, nccl_all_gather_time: M bytes in total)."""
    return max(int(participants), 1) * topk_message_bytes(elements, fraction)


def topk_received_bytes_per_worker(elements: float, fraction: float, participants: int) -> float:
    """Bytes each worker receives in the top-k all-gather: the other N-1 workers' k pairs, (N-1) k x 8."""
    return max(int(participants) - 1, 0) * topk_message_bytes(elements, fraction)


def received_bytes_per_worker(scheme: str, elements: float, participants: int, topk_fraction: float = 0.01) -> float:
    """Bytes each worker receives in one synchronisation: (N-1) k x 8 for top-k (all-gather), else the ring
    all-reduce's 2 (N-1)/N x M of the scheme's message (1-bit's all-to-all + all-gather moves the same)."""
    n = max(int(participants), 1)
    if scheme == "topk":
        return topk_received_bytes_per_worker(elements, topk_fraction, n)
    m = float(elements) * bits_per_element(scheme, topk_fraction, elements) / 8.0
    return 2.0 * (n - 1) / n * m


def topk_allgather_time(elements: float, fraction: float, participants: int, alpha: float,
                        bandwidth: float) -> float:
    """Top-k synchronisation as a textbook ring all-gather of N x k x 8 bytes in total:
    (N-1) alpha + (N-1)/N x N k 8 / B = (N-1) (alpha + k 8 / B) (collectives.all_gather_time)."""
    from explorer.cost.collectives import all_gather_time

    return float(all_gather_time(topk_allgather_bytes(elements, fraction, participants), participants, alpha,
                                 bandwidth))


def topk_dense_crossover_workers(fraction: float, dense_bytes_per_element: float) -> float:
    """Workers N above which the top-k all-gather receives more bytes per worker than the dense ring all-reduce:
    (N-1) f P 8 > 2 (N-1)/N b P  <=>  N > 2 b / (8 f) (P elements, b dense bytes per element, f kept fraction)."""
    return 2.0 * float(dense_bytes_per_element) / (TOPK_PAIR_BYTES * float(fraction))
