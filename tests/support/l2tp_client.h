// A client as the data plane sees one: IP inside PPP inside L2TP inside ESP
// (transport, plain or UDP 4500), built with the same keys as the data
// plane's SAs through our own ESP transform (which the known-answer and scapy
// tests check independently), and the reverse for what the data plane sends.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include <intel-ipsec-mb.h>
#include <rte_mbuf.h>

#include "common/config/config.h"
#include "dataplane/ipsec/sa.h"

namespace conc::test {

// How the client frames its L2TP data and PPP (all legal, RFC 2661 3.1 and
// RFC 1661 6.5/6.6); overrides for bad-input tests.
struct L2tpFraming {
    bool length_field = false;      // L bit
    bool sequence = false;          // S bit with Ns/Nr
    uint16_t offset_size = 0;       // O bit with this many pad bytes (when > 0 or force_offset)
    bool force_offset = false;
    bool address_control = true;    // FF 03 in front (no ACFC)
    bool one_byte_protocol = false; // PFC
    bool control = false;           // T bit: an L2TP control message
    uint16_t version = 2;
    int tunnel_id = -1;             // override the session's ids
    int session_id = -1;
    uint16_t udp_destination = 1701;
};

struct Downstream {
    uint32_t outer_source = 0, outer_destination = 0;  // host order
    bool udp_encap = false;
    uint16_t udp_source = 0, udp_destination = 0;      // outer, with udp_encap
    uint32_t spi = 0, seq = 0;
    uint16_t inner_udp_source = 0, inner_udp_destination = 0;
    uint16_t l2tp_flags = 0, tunnel_id = 0, session_id = 0, ns = 0;
    uint16_t ppp_protocol = 0;
    std::vector<uint8_t> inner;  // the IP packet
};

class L2tpClient {
public:
    // dp_in: the data plane's inbound SA (we encrypt with it); dp_out: its
    // outbound SA (we decrypt with it); session: the data plane's session.
    L2tpClient(const config::StaticSa& dp_in, const config::StaticSa& dp_out, const config::StaticSession& session,
               uint32_t dp_access_address);
    ~L2tpClient();
    L2tpClient(const L2tpClient&) = delete;
    L2tpClient& operator=(const L2tpClient&) = delete;

    // An Ethernet frame from the client carrying inner (an IP packet, or any
    // PPP payload) with PPP protocol ppp_protocol; sequence number seq, or
    // the next one when 0.
    rte_mbuf* upstream(rte_mempool* pool, const std::vector<uint8_t>& inner, uint16_t ppp_protocol,
                       const L2tpFraming& framing = {}, uint32_t seq = 0);
    // The same bytes, without an mbuf.
    std::vector<uint8_t> upstream_bytes(const std::vector<uint8_t>& inner, uint16_t ppp_protocol,
                                        const L2tpFraming& framing = {}, uint32_t seq = 0);

    // Opens a frame the data plane sent to this client; false with why.
    bool downstream(const uint8_t* frame, size_t len, Downstream& out, std::string& why);

    uint16_t peer_port() const { return peer_port_; }
    void set_peer_port(uint16_t port) { peer_port_ = port; }  // the client's NAT-mapped UDP port
    void set_public_address(uint32_t address) { client_public_ = address; }  // host order: the NAT's

private:
    IMB_MGR* mgr_;
    dp::SecurityAssociation* send_;     // twin of the data plane's inbound SA
    dp::SecurityAssociation* receive_;  // twin of its outbound SA
    config::StaticSession session_;
    uint32_t dp_address_;
    uint32_t client_public_;
    uint16_t peer_port_;
    uint32_t next_seq_ = 1;
};

// Inner packets for tests. Addresses in host order (IPv4) or as bytes (IPv6).
std::vector<uint8_t> ipv4_udp(uint32_t source, uint32_t destination, uint16_t sport, uint16_t dport,
                              const std::vector<uint8_t>& payload, uint8_t ttl = 64, uint16_t flags = 0);
std::vector<uint8_t> ipv4_tcp_syn(uint32_t source, uint32_t destination, uint16_t mss, uint16_t flags = 0x4000);
std::vector<uint8_t> ipv6_udp(const uint8_t source[16], const uint8_t destination[16], uint16_t sport, uint16_t dport,
                              const std::vector<uint8_t>& payload, uint8_t hop_limit = 64);
std::vector<uint8_t> ipv6_tcp_syn(const uint8_t source[16], const uint8_t destination[16], uint16_t mss);

// The TCP MSS option value of a SYN inside an IP packet, or 0.
uint16_t tcp_mss_of(const std::vector<uint8_t>& ip_packet);
// True if the L4 checksum (TCP/UDP, IPv4 or IPv6) of the packet verifies.
bool l4_checksum_ok(const std::vector<uint8_t>& ip_packet);

}  // namespace conc::test
