// libFuzzer target: any frame on either port goes through the real stages
// (classification, ESP decap with real SAs, encap) without a crash, a leak of
// mbufs or a read past the frame. The first input byte picks the port (bit
// 0, 1 = core) and whether the rest is one frame or a burst (bit 1): records
// of [repeat][length, 2 bytes][frame], each frame queued repeat + 1 times,
// up to 256 frames in all, taken by the worker in bursts of 256 (what one
// frame cannot reach: fragments outgrowing a batch, many packets of one SA).
#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>

#include <rte_mbuf.h>
#include <sanitizer/asan_interface.h>

#include "common/proto/arp.h"
#include "common/proto/nd.h"
#include "tests/fuzz/fuzz_sas.h"
#include "tests/support/ring_dataplane.h"

using namespace conc;

namespace {

test::RingDataplane* g_dataplane = nullptr;

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
    g_dataplane = fuzz::start_dataplane();
    return 0;
}

// Queues the burst the records after data[0] describe, on one port.
void queue_burst(const uint8_t* data, size_t size, bool to_core) {
    rte_mbuf* burst[256];
    unsigned n = 0;
    for (size_t at = 1; at + 3 <= size && n < 256;) {
        const unsigned repeat = data[at] + 1u;
        const size_t len = std::min<size_t>(size_t{data[at + 1]} << 8 | data[at + 2], size - at - 3);
        const uint8_t* frame = data + at + 3;
        at += 3 + len;
        for (unsigned r = 0; r < repeat && n < 256; ++r) {
            rte_mbuf* m = rte_pktmbuf_alloc(g_dataplane->pool());
            if (!m) std::abort();  // a leak of mbufs shows here
            void* p = rte_pktmbuf_append(m, static_cast<uint16_t>(len));
            if (!p) {
                rte_pktmbuf_free(m);
                return;
            }
            std::memcpy(p, frame, len);
            burst[n++] = m;
        }
    }
    const unsigned queued = to_core ? g_dataplane->inject_core(burst, n) : g_dataplane->inject_access(burst, n);
    if (queued != n) std::abort();
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    if (size < 1 || size > 2000) return 0;
    const bool to_core = data[0] & 1;
    if (data[0] & 2) {
        queue_burst(data, size, to_core);
        g_dataplane->poll_until_idle();
        fuzz::drain_ports(*g_dataplane);
        return 0;
    }
    rte_mbuf* m = rte_pktmbuf_alloc(g_dataplane->pool());
    if (!m) std::abort();  // a leak of mbufs shows here
    const uint16_t len = static_cast<uint16_t>(size - 1);
    uint8_t* p = reinterpret_cast<uint8_t*>(rte_pktmbuf_append(m, len));
    std::memcpy(p, data + 1, len);
    // mbuf memory is DPDK's, not malloc's: poison the room around an access
    // frame ourselves so ASan reports any read before or past it. The access
    // path only shrinks a frame, except that ARP and Neighbor Advertisement
    // replies are built in place (60 and 86 bytes); the core path grows into the room.
    uint8_t* room = static_cast<uint8_t*>(m->buf_addr);
    const uint16_t room_len = m->buf_len;
    if (!to_core) {
        const uint16_t writable = std::max<uint16_t>(len, proto::kNdFrameSize);
        ASAN_POISON_MEMORY_REGION(room, m->data_off);
        ASAN_POISON_MEMORY_REGION(p + writable, room_len - m->data_off - writable);
    }
    if (to_core) g_dataplane->inject_core(&m, 1);
    else g_dataplane->inject_access(&m, 1);
    g_dataplane->poll();
    fuzz::drain_ports(*g_dataplane);
    ASAN_UNPOISON_MEMORY_REGION(room, room_len);
    return 0;
}
