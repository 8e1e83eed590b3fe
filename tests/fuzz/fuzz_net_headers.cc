// libFuzzer target for the wire helpers the data plane answers and rewrites
// packets with and learns neighbours from (common/proto: ipv6, tcp_mss, icmp, arp, nd). The input is
// tried as an IP packet and, past a 14-byte Ethernet header, as a frame's
// payload, each both as it came and with its checksums made right. Each view
// is its own exact-size allocation, so a read past it is an AddressSanitizer
// report. Besides not crashing, what is built must fit its buffer, parse
// back and carry right checksums, and a clamped segment keeps its sum.
#include <algorithm>
#include <cstdint>
#include <cstring>
#include <vector>

#include "common/proto/arp.h"
#include "common/proto/byte_reader.h"
#include "common/proto/icmp.h"
#include "common/proto/ipv4.h"
#include "common/proto/ipv6.h"
#include "common/proto/nd.h"
#include "common/proto/tcp_mss.h"

using namespace conc::proto;
using Bytes = std::vector<uint8_t>;

namespace {

#define CHECK(condition)                    \
    do {                                    \
        if (!(condition)) __builtin_trap(); \
    } while (0)

const uint8_t kOurMac[6] = {0x02, 0x00, 0x00, 0x00, 0x09, 0x09};
const uint8_t kFrameSource[6] = {0x02, 0x00, 0x00, 0x00, 0x01, 0x01};
const uint8_t kUs6[16] = {0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x01};
const uint8_t kUs4Bytes[4] = {198, 51, 100, 1};

uint32_t us4() {
    uint32_t v;
    std::memcpy(&v, kUs4Bytes, 4);
    return v;
}

bool same_ones_complement(uint16_t a, uint16_t b) {
    return a == b || (a == 0 && b == 0xFFFF) || (a == 0xFFFF && b == 0);
}

void check_ipv6(const Bytes& p) {
    Ipv6Header h{};
    if (parse_ipv6(p.data(), p.size(), h) != Ipv6Error::Ok) return;
    CHECK(kIpv6HeaderSize + h.payload_length <= p.size());
    // Writing the parsed header gives back the same 40 bytes.
    uint8_t header[kIpv6HeaderSize];
    write_ipv6_header(header, h.source, h.destination, h.next_header, h.payload_length, h.hop_limit, h.traffic_class,
                      h.flow_label);
    CHECK(std::memcmp(header, p.data(), kIpv6HeaderSize) == 0);
    Ipv6UpperLayer upper{};
    if (find_ipv6_upper_layer(p.data(), h, upper)) CHECK(upper.offset <= kIpv6HeaderSize + h.payload_length);
    ipv6_upper_layer_checksum(h.source, h.destination, h.next_header, p.data() + kIpv6HeaderSize, h.payload_length);
    // Prefixes: an address is in every prefix of itself, and matching is monotone in the length.
    const unsigned length = p.size() % 140;
    CHECK(ipv6_address_in_prefix(h.source, h.source, length) == (length <= 128));
    if (ipv6_address_in_prefix(h.source, h.destination, length) && length > 0)
        CHECK(ipv6_address_in_prefix(h.source, h.destination, length - 1));
}

// Clamps a copy of tcp, checking that only MSS values and the checksum
// change, that the segment's ones' complement sum is kept, and that a second
// clamp finds nothing to do.
void check_clamp(const uint8_t* tcp, size_t len, uint16_t max_mss) {
    Bytes segment(tcp, tcp + len);
    const uint16_t sum_before = internet_checksum(segment.data(), segment.size());
    const bool changed = clamp_tcp_mss(segment.data(), segment.size(), max_mss);
    if (!changed) {
        CHECK(std::equal(segment.begin(), segment.end(), tcp));
        return;
    }
    CHECK(len >= kTcpMinHeaderSize && (tcp[13] & kTcpFlagSyn));
    CHECK(same_ones_complement(sum_before, internet_checksum(segment.data(), segment.size())));
    for (size_t i = 0; i < len; ++i) {
        if (segment[i] == tcp[i] || i == 16 || i == 17) continue;
        // A changed byte lies in the value of an MSS option that was above the limit.
        CHECK(i >= kTcpMinHeaderSize + 2 && i < static_cast<size_t>(tcp[12] >> 4) * 4);
    }
    Bytes again = segment;
    CHECK(!clamp_tcp_mss(again.data(), again.size(), max_mss));
    CHECK(again == segment);
}

void check_tcp(const Bytes& p, uint16_t max_mss) {
    check_clamp(p.data(), p.size(), max_mss);
    Ipv4Header h4{};
    if (parse_ipv4(p.data(), p.size(), h4) == Ipv4Error::Ok && h4.protocol == 6)
        check_clamp(p.data() + h4.header_length, h4.total_length - h4.header_length, max_mss);
    Ipv6Header h6{};
    Ipv6UpperLayer upper{};
    if (parse_ipv6(p.data(), p.size(), h6) == Ipv6Error::Ok && find_ipv6_upper_layer(p.data(), h6, upper) &&
        upper.protocol == 6 && !upper.non_first_fragment)
        check_clamp(p.data() + upper.offset, kIpv6HeaderSize + h6.payload_length - upper.offset, max_mss);
}

void check_icmpv4_packet(const uint8_t* out, size_t n) {
    Ipv4Header h{};
    CHECK(parse_ipv4(out, n, h) == Ipv4Error::Ok);
    CHECK(h.total_length == n && h.protocol == kIpProtoIcmp && h.header_length == kIpv4MinHeaderSize);
    CHECK(internet_checksum(out + kIpv4MinHeaderSize, n - kIpv4MinHeaderSize) == 0);
}

void check_icmpv6_packet(const uint8_t* out, size_t n) {
    Ipv6Header h{};
    CHECK(parse_ipv6(out, n, h) == Ipv6Error::Ok);
    CHECK(kIpv6HeaderSize + h.payload_length == n && h.next_header == kIpProtoIcmpv6);
    CHECK(ipv6_upper_layer_checksum(h.source, h.destination, kIpProtoIcmpv6, out + kIpv6HeaderSize, h.payload_length) ==
          0);
}

// Runs a builder into a roomy buffer, a tight one (cap from the input), and
// in place over a copy of the input; all must agree.
template <typename Build>
size_t build_three_ways(const Bytes& in, size_t tight_cap, Build build, Bytes& out) {
    out.assign(2048, 0xEE);
    const size_t n = build(out.data(), out.size(), in.data(), in.size());
    CHECK(n <= out.size());
    Bytes tight(tight_cap);
    const size_t m = build(tight.data(), tight.size(), in.data(), in.size());
    CHECK(m == 0 || (m == n && m <= tight_cap && std::memcmp(tight.data(), out.data(), m) == 0));
    if (n) CHECK(tight_cap < n || m == n);
    Bytes shared = in;
    shared.resize(std::max<size_t>(in.size(), n));
    const size_t k = build(shared.data(), shared.size(), shared.data(), in.size());
    CHECK(k == n && (n == 0 || std::memcmp(shared.data(), out.data(), n) == 0));
    out.resize(n);
    return n;
}

void check_icmp(const Bytes& p, size_t tight_cap) {
    Bytes out;
    size_t n = build_three_ways(
        p, tight_cap,
        [](uint8_t* o, size_t cap, const uint8_t* in, size_t len) {
            return build_icmpv4_frag_needed(o, cap, in, len, us4(), 1400);
        },
        out);
    if (n) {
        check_icmpv4_packet(out.data(), n);
        CHECK(out[20] == kIcmpDestinationUnreachable && out[21] == kIcmpFragmentationNeeded);
        CHECK(n <= 20 + 8 + 60 + 8 && std::memcmp(out.data() + 28, p.data(), n - 28) == 0);
    }
    n = build_three_ways(
        p, tight_cap,
        [](uint8_t* o, size_t cap, const uint8_t* in, size_t len) {
            return build_icmpv6_packet_too_big(o, cap, in, len, kUs6, 1280);
        },
        out);
    if (n) {
        check_icmpv6_packet(out.data(), n);
        CHECK(out[40] == kIcmpv6PacketTooBig && n <= kIpv6MinimumMtu);
        CHECK(std::memcmp(out.data() + 48, p.data(), n - 48) == 0);
    }
    n = build_three_ways(p, tight_cap, build_icmpv4_echo_reply, out);
    if (n) {
        check_icmpv4_packet(out.data(), n);
        CHECK(out[20] == kIcmpEchoReply && std::memcmp(out.data() + 12, p.data() + 16, 4) == 0);
        CHECK(std::memcmp(out.data() + 24, p.data() + 24, n - 24) == 0);  // identifier, sequence, data
    }
    n = build_three_ways(p, tight_cap, build_icmpv6_echo_reply, out);
    if (n) {
        check_icmpv6_packet(out.data(), n);
        CHECK(out[40] == kIcmpv6EchoReply && std::memcmp(out.data() + 8, p.data() + 24, 16) == 0);
        CHECK(std::memcmp(out.data() + 44, p.data() + 44, n - 44) == 0);
    }
}

void check_arp(const Bytes& p) {
    ArpPacket a{};
    if (parse_arp(p.data(), p.size(), a) != ArpError::Ok) return;
    uint8_t frame[kEthernetMinFrameSize + 4];
    const size_t n = build_arp_reply(frame, sizeof frame, a, kOurMac);
    CHECK(n == (a.operation == kArpOperationRequest ? kEthernetMinFrameSize : 0));
    if (n) {
        ArpPacket reply{};
        CHECK(parse_arp(frame + kEthernetHeaderSize, n - kEthernetHeaderSize, reply) == ArpError::Ok);
        CHECK(reply.operation == kArpOperationReply && reply.sender_ip == a.target_ip &&
              reply.target_ip == a.sender_ip && std::memcmp(reply.target_mac, a.sender_mac, 6) == 0);
        CHECK(std::memcmp(frame, a.sender_mac, 6) == 0);
    }
    CHECK(build_arp_request(frame, sizeof frame, kOurMac, a.target_ip, a.sender_ip) == kEthernetMinFrameSize);
    ArpPacket request{};
    CHECK(parse_arp(frame + kEthernetHeaderSize, kArpPacketSize, request) == ArpError::Ok);
    CHECK(request.operation == kArpOperationRequest && request.target_ip == a.sender_ip);
}

void check_nd(const Bytes& p) {
    NeighborAdvertisement na{};
    if (parse_neighbor_advertisement(p.data(), p.size(), na) == NdError::Ok) {
        CHECK(!ipv6_is_multicast(na.target));
        CHECK(!ipv6_is_multicast(p.data() + 24) || !(na.flags & kNdAdvertisementSolicited));
    }
    NeighborSolicitation ns{};
    if (parse_neighbor_solicitation(p.data(), p.size(), ns) != NdError::Ok) return;
    CHECK(!ipv6_is_multicast(ns.target) && !ipv6_is_multicast(ns.source));
    uint8_t frame[kNdFrameSize];
    CHECK(build_neighbor_advertisement(frame, sizeof frame, ns, kOurMac, kFrameSource) == kNdFrameSize);
    check_icmpv6_packet(frame + kEthernetHeaderSize, kNdFrameSize - kEthernetHeaderSize);
    CHECK(frame[kEthernetHeaderSize + 7] == kNdHopLimit);
    CHECK(frame[kEthernetHeaderSize + kIpv6HeaderSize] == kNdNeighborAdvertisement);
    CHECK(std::memcmp(frame + kEthernetHeaderSize + 8, ns.target, 16) == 0);
    // Our own solicitation for the same target parses, option and all.
    CHECK(build_neighbor_solicitation(frame, sizeof frame, kOurMac, kUs6, ns.target) == kNdFrameSize);
    NeighborSolicitation ours{};
    CHECK(parse_neighbor_solicitation(frame + kEthernetHeaderSize, kNdFrameSize - kEthernetHeaderSize, ours) ==
          NdError::Ok);
    CHECK(std::memcmp(ours.target, ns.target, 16) == 0 && ours.has_source_link_layer_address);
    CHECK(std::memcmp(ours.source_link_layer_address, kOurMac, 6) == 0);
    CHECK(std::memcmp(frame, "\x33\x33\xff", 3) == 0 && std::memcmp(frame + 3, ns.target + 13, 3) == 0);
}

// The same bytes with their IPv4 header, ICMP and ICMPv6 checksums made
// right, so mutations get past checksum checks to what lies behind them.
Bytes with_checksums_fixed(Bytes p) {
    if (p.size() >= kIpv4MinHeaderSize && p[0] >> 4 == 4) {
        const size_t header = (p[0] & 0x0Fu) * 4;
        const size_t total = load_u16(p.data() + 2);
        if (header < kIpv4MinHeaderSize || header > total || total > p.size()) return p;
        write_u16(p.data() + 10, 0);
        write_u16(p.data() + 10, internet_checksum(p.data(), header));
        if (p[9] == kIpProtoIcmp && total - header >= 4) {
            write_u16(p.data() + header + 2, 0);
            write_u16(p.data() + header + 2, internet_checksum(p.data() + header, total - header));
        }
    } else if (p.size() >= kIpv6HeaderSize && p[0] >> 4 == 6 && p[6] == kIpProtoIcmpv6) {
        const size_t payload = load_u16(p.data() + 4);
        if (payload < 4 || payload > p.size() - kIpv6HeaderSize) return p;
        uint8_t* m = p.data() + kIpv6HeaderSize;
        write_u16(m + 2, 0);
        write_u16(m + 2, ipv6_upper_layer_checksum(p.data() + 8, p.data() + 24, kIpProtoIcmpv6, m, payload));
    }
    return p;
}

void check_view(const Bytes& view, uint16_t max_mss, size_t tight_cap) {
    check_ipv6(view);
    check_tcp(view, max_mss);
    check_tcp(view, 536);
    check_icmp(view, tight_cap);
    check_arp(view);
    check_nd(view);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    if (size > 4096) return 0;
    const uint16_t max_mss = size >= 2 ? load_u16(data + size - 2) : 1360;
    const size_t tight_cap = size ? size_t{data[0]} * 6 : 0;
    for (size_t skip : {size_t{0}, kEthernetHeaderSize}) {
        if (size < skip) break;
        const Bytes view(data + skip, data + size);
        check_view(view, max_mss, tight_cap);
        check_view(with_checksums_fixed(view), max_mss, tight_cap);
    }
    return 0;
}
