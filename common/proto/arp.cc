#include "common/proto/arp.h"

#include <cstring>

#include "common/proto/byte_reader.h"
#include "common/proto/ipv4.h"

namespace conc::proto {

namespace {

// Writes the 28 ARP bytes after the Ethernet header and pads the frame.
size_t write_arp_frame(uint8_t* out, size_t cap, const uint8_t ethernet_destination[6], const uint8_t our_mac[6],
                       uint16_t operation, uint32_t sender_ip, const uint8_t target_mac[6], uint32_t target_ip) {
    if (cap < kEthernetMinFrameSize) return 0;
    uint8_t destination[6], source[6], target[6];  // copies: the caller's may sit in out
    std::memcpy(destination, ethernet_destination, 6);
    std::memcpy(source, our_mac, 6);
    std::memcpy(target, target_mac, 6);
    write_ethernet_header(out, destination, source, kEtherTypeArp);
    uint8_t* arp = out + kEthernetHeaderSize;
    write_u16(arp, kArpHardwareEthernet);
    write_u16(arp + 2, kEtherTypeIpv4);
    arp[4] = 6;
    arp[5] = 4;
    write_u16(arp + 6, operation);
    std::memcpy(arp + 8, source, 6);
    std::memcpy(arp + 14, &sender_ip, 4);
    std::memcpy(arp + 18, target, 6);
    std::memcpy(arp + 24, &target_ip, 4);
    const size_t end = kEthernetHeaderSize + kArpPacketSize;
    std::memset(out + end, 0, kEthernetMinFrameSize - end);
    return kEthernetMinFrameSize;
}

}  // namespace

ArpError parse_arp(const uint8_t* p, size_t len, ArpPacket& out) {
    if (len < kArpPacketSize) return ArpError::Truncated;
    if (load_u16(p) != kArpHardwareEthernet || p[4] != 6) return ArpError::UnsupportedHardware;
    if (load_u16(p + 2) != kEtherTypeIpv4 || p[5] != 4) return ArpError::UnsupportedProtocol;
    out.operation = load_u16(p + 6);
    if (out.operation != kArpOperationRequest && out.operation != kArpOperationReply) return ArpError::BadOperation;
    std::memcpy(out.sender_mac, p + 8, 6);
    std::memcpy(&out.sender_ip, p + 14, 4);
    std::memcpy(out.target_mac, p + 18, 6);
    std::memcpy(&out.target_ip, p + 24, 4);
    // The group bit: we would send our reply, or our traffic, to a multicast group.
    if (out.sender_mac[0] & 0x01) return ArpError::BadSenderAddress;
    return ArpError::Ok;
}

size_t build_arp_reply(uint8_t* out_frame, size_t cap, const ArpPacket& request, const uint8_t our_mac[6]) {
    if (request.operation != kArpOperationRequest) return 0;
    return write_arp_frame(out_frame, cap, request.sender_mac, our_mac, kArpOperationReply, request.target_ip,
                           request.sender_mac, request.sender_ip);
}

size_t build_arp_request(uint8_t* out_frame, size_t cap, const uint8_t our_mac[6], uint32_t our_ip,
                         uint32_t target_ip) {
    static constexpr uint8_t kBroadcast[6] = {0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF};
    static constexpr uint8_t kUnknown[6] = {};  // RFC 826: target hardware address not yet known
    return write_arp_frame(out_frame, cap, kBroadcast, our_mac, kArpOperationRequest, our_ip, kUnknown, target_ip);
}

}  // namespace conc::proto
