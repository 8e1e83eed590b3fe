// ARP (RFC 826) for IPv4 over Ethernet: parsing what arrives on our ports
// and building the replies and requests we send, as whole Ethernet frames.
#pragma once

#include <cstddef>
#include <cstdint>

namespace conc::proto {

inline constexpr size_t kArpPacketSize = 28;         // Ethernet/IPv4 ARP, after the Ethernet header
inline constexpr size_t kEthernetMinFrameSize = 60;  // without the FCS (IEEE 802.3 minimum 64 with it)
inline constexpr uint16_t kArpHardwareEthernet = 1;
inline constexpr uint16_t kArpOperationRequest = 1;
inline constexpr uint16_t kArpOperationReply = 2;

enum class ArpError : uint8_t {
    Ok,
    Truncated,
    UnsupportedHardware,  // hardware type not Ethernet or hardware length not 6
    UnsupportedProtocol,  // protocol type not IPv4 or protocol length not 4
    BadOperation,         // neither request nor reply
    BadSenderAddress,     // a multicast or broadcast sender MAC (RFC 1812 3.3.2)
};

struct ArpPacket {
    uint16_t operation;  // kArpOperationRequest or kArpOperationReply
    uint8_t sender_mac[6];
    uint32_t sender_ip;  // network byte order
    uint8_t target_mac[6];
    uint32_t target_ip;  // network byte order
};

// Parses the ARP packet at p, the bytes after the Ethernet header (len may
// include the frame's padding).
ArpError parse_arp(const uint8_t* p, size_t len, ArpPacket& out);

// The reply to request (which the caller found asking for one of our
// addresses): an Ethernet frame from our_mac to the requester, padded to 60
// bytes. Returns 60, or 0 if cap is too small or request is not a request.
size_t build_arp_reply(uint8_t* out_frame, size_t cap, const ArpPacket& request, const uint8_t our_mac[6]);

// A broadcast request for target_ip from our_mac/our_ip, padded to 60 bytes.
// Returns 60, or 0 if cap is too small. Addresses in network byte order.
size_t build_arp_request(uint8_t* out_frame, size_t cap, const uint8_t our_mac[6], uint32_t our_ip, uint32_t target_ip);

}  // namespace conc::proto
