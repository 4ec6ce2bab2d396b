# Included by _native.pyx: Kafka's default partitioning of a key.

from libc.stdint cimport uint32_t


cdef inline uint32_t _murmur2(const unsigned char *data, Py_ssize_t length) noexcept nogil:
    # The Java client's murmur2 (seed 0x9747b28c), as eventyard.core.routing.murmur2.
    cdef uint32_t m = 0x5BD1E995, k
    cdef uint32_t h = (<uint32_t>0x9747B28CU) ^ <uint32_t>length
    cdef Py_ssize_t i, tail = length % 4, base = length - length % 4
    for i in range(0, base, 4):
        k = data[i] | (<uint32_t>data[i + 1] << 8) | (<uint32_t>data[i + 2] << 16) | (<uint32_t>data[i + 3] << 24)
        k *= m
        k ^= k >> 24
        k *= m
        h = (h * m) ^ k
    if tail == 3:
        h ^= <uint32_t>data[base + 2] << 16
    if tail >= 2:
        h ^= <uint32_t>data[base + 1] << 8
    if tail >= 1:
        h ^= data[base]
        h *= m
    h ^= h >> 13
    h *= m
    h ^= h >> 15
    return h


def key_partition(bytes key not None, Py_ssize_t partitions):
    """The partition of `key` among `partitions` (0..n-1), as Kafka's default partitioner places it."""
    if partitions < 1:
        raise ValueError("a topic has at least one partition")
    return (_murmur2(<const unsigned char *>PyBytes_AS_STRING(key), PyBytes_GET_SIZE(key)) & 0x7FFFFFFF) % partitions
