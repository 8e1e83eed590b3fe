// Next hops (DESIGN.md: ARP and neighbour discovery on both ports). Each
// port sends everything of one address family to one gateway, whose MAC is
// either configured (gateway_mac) or resolved: any worker learns it from the
// ARP packets and Neighbor Advertisements it receives (RFC 826 merge, RFC
// 4861 7.2.5), and worker 0 asks, once a second while it is unknown or has
// not been confirmed for kNeighborRefreshSeconds. A learned MAC stays in use
// while it is re-asked (a silent router is more likely than a moved one).
#pragma once

#include <atomic>
#include <cstdint>
#include <cstring>

#include <rte_mbuf.h>

namespace conc::dp {

inline constexpr unsigned kNeighborRefreshSeconds = 30;

struct NextHop {
    // The MAC in the low six bytes with kKnown set; 0 while unknown. One
    // word, so workers read and learn it without a lock.
    std::atomic<uint64_t> mac{0};
    std::atomic<uint64_t> confirmed_tsc{0};  // when it last answered or announced itself
    uint32_t ipv4 = 0;                       // network byte order; the IPv4 gateway's
    uint8_t ipv6[16]{};                      // the IPv6 gateway's
    bool resolve = false;                    // false: configured MAC, or no gateway of this family

    static constexpr uint64_t kKnown = uint64_t{1} << 63;

    static uint64_t pack(const uint8_t m[6]) {
        uint64_t v = 0;
        std::memcpy(&v, m, 6);
        return v | kKnown;
    }
    // False while unknown.
    bool get(uint8_t out[6]) const {
        const uint64_t v = mac.load(std::memory_order_relaxed);
        std::memcpy(out, &v, 6);
        return v != 0;
    }
};

struct WorkerContext;
struct PortState;
class TxBuffer;

// Writes the Ethernet header at the start of m, from port to its gateway for
// ether_type's family, and queues m on tx; or drops and counts it while the
// gateway's MAC is unknown.
void send_to_gateway(WorkerContext& ctx, const PortState& port, TxBuffer& tx, rte_mbuf* m, uint16_t ether_type);

// Called with what a port received from a neighbour that named itself
// (ARP sender, Neighbor Advertisement target, Neighbor Solicitation source):
// if it is the port's gateway, remembers its MAC. True if it was.
bool learn_ipv4_neighbor(WorkerContext& ctx, PortState& port, uint32_t address, const uint8_t mac[6]);
bool learn_ipv6_neighbor(WorkerContext& ctx, PortState& port, const uint8_t address[16], const uint8_t mac[6]);

// Worker 0, each poll: once a second, ARP requests and Neighbor
// Solicitations for the gateways that need them. Returns the frames queued.
unsigned solicit_next_hops(WorkerContext& ctx);

}  // namespace conc::dp
