// Frames for the data plane itself, on either port (DESIGN.md, upstream step
// 1): ARP requests and Neighbor Solicitations for the port's addresses and
// ICMP echo requests to them are answered in place, out of the port they
// came in on; ARP and Neighbor Advertisements from the port's gateways are
// learned (dataplane/neighbor.h); anything else addressed to us that is not
// IKE or ESP is a counted drop.
#pragma once

#include <rte_mbuf.h>

#include "dataplane/worker.h"

namespace conc::dp {

// An ARP frame (ether type 0x0806, after the Ethernet header at arp, len
// bytes): answers a request for port's address, learns a gateway's MAC.
// Always consumes m.
void receive_arp(WorkerContext& ctx, PortState& port, TxBuffer& tx, rte_mbuf* m, const uint8_t* arp, size_t len);

// An IPv4 packet to port's own address that is neither IKE nor ESP: answers
// an echo request in place. Always consumes m.
void receive_local_ipv4(WorkerContext& ctx, const PortState& port, TxBuffer& tx, rte_mbuf* m, uint8_t* ip,
                        size_t len);

// An IPv6 packet (at ip, len bytes): if it is for the port's own IPv6
// address or any multicast group (Neighbor Discovery, ping, router chatter),
// handles it and returns true (m consumed); false for anything else, or when
// the port has no IPv6 address.
bool receive_local_ipv6(WorkerContext& ctx, PortState& port, TxBuffer& tx, rte_mbuf* m, uint8_t* ip, size_t len);

}  // namespace conc::dp
