// L2TPv2 (RFC 2661 3.1) data message header and the PPP (RFC 1661, RFC 1662
// 3.2 address/control) framing inside it: bounds-checked parsing of what a
// client sends, and the one writer of what we send.
#pragma once

#include <cstddef>
#include <cstdint>

#include "common/proto/byte_reader.h"

namespace conc::proto {

inline constexpr uint16_t kL2tpPort = 1701;
inline constexpr uint16_t kL2tpFlagType = 0x8000;      // T: control message
inline constexpr uint16_t kL2tpFlagLength = 0x4000;    // L: length field present
inline constexpr uint16_t kL2tpFlagSequence = 0x0800;  // S: Ns and Nr present
inline constexpr uint16_t kL2tpFlagOffset = 0x0200;    // O: offset size present
inline constexpr uint16_t kL2tpFlagPriority = 0x0100;  // P
inline constexpr uint16_t kL2tpVersionMask = 0x000F;
inline constexpr uint16_t kL2tpVersion = 2;

inline constexpr uint16_t kPppIpv4 = 0x0021;
inline constexpr uint16_t kPppIpv6 = 0x0057;
inline constexpr uint8_t kPppAddress = 0xFF;   // RFC 1662 3.1: all-stations
inline constexpr uint8_t kPppControl = 0x03;   // unnumbered information

enum class L2tpError : uint8_t { Ok, Truncated, BadVersion, BadLength, BadOffset };

struct L2tpHeader {
    uint16_t flags;        // with the version bits
    uint16_t tunnel_id;
    uint16_t session_id;
    uint16_t ns, nr;       // valid when has_sequence()
    uint16_t payload_offset;  // from the start of the L2TP header to the PPP frame (data) or first AVP (control)
    uint16_t payload_len;     // bytes of it, up to the Length field or the end of the datagram

    bool is_control() const { return flags & kL2tpFlagType; }
    bool has_sequence() const { return flags & kL2tpFlagSequence; }
};

// Parses the header of an L2TP message that fills len bytes (the UDP
// payload). A control message is parsed as far as its ids, for punting; its
// contents are the control plane's to check. Inline: called out of line,
// its 16-bit stores of the ids meet the fast path's 32-bit load of them as
// a session key, which the CPU cannot forward from its store buffer.
inline L2tpError parse_l2tp(const uint8_t* p, size_t len, L2tpHeader& out) {
    // Field by field at offsets that only grow, each checked against len
    // before it is read. (Through ByteReader, GCC kept the offsets in stack
    // slots and read the ids a byte at a time: a third of the upstream L2TP stage.)
    if (len < 2) return L2tpError::Truncated;
    out.flags = load_u16(p);
    if ((out.flags & kL2tpVersionMask) != kL2tpVersion) return L2tpError::BadVersion;
    size_t offset = 2;
    size_t message_len = len;
    if (out.flags & kL2tpFlagLength) {
        if (len < 4) return L2tpError::Truncated;
        // RFC 2661 3.1: the whole message; shorter than the datagram is fine
        // (trailing bytes ignored), longer is not.
        message_len = load_u16(p + 2);
        if (message_len > len) return L2tpError::BadLength;
        offset = 4;
    }
    if (len - offset < 4) return L2tpError::Truncated;
    out.tunnel_id = load_u16(p + offset);
    out.session_id = load_u16(p + offset + 2);
    offset += 4;
    out.ns = out.nr = 0;
    if (out.flags & kL2tpFlagSequence) {
        if (len - offset < 4) return L2tpError::Truncated;
        out.ns = load_u16(p + offset);
        out.nr = load_u16(p + offset + 2);
        offset += 4;
    }
    if (out.flags & kL2tpFlagOffset) {
        if (len - offset < 2) return L2tpError::Truncated;
        const size_t offset_size = load_u16(p + offset);
        offset += 2;
        if (len - offset < offset_size) return L2tpError::BadOffset;
        offset += offset_size;
    }
    if (offset > message_len) return L2tpError::BadLength;
    out.payload_offset = static_cast<uint16_t>(offset);
    out.payload_len = static_cast<uint16_t>(message_len - offset);
    return L2tpError::Ok;
}

// Bytes of the data header we send: flags, tunnel id, session id, and Ns/Nr
// when the session uses sequencing (RFC 2661 5.4).
inline constexpr size_t l2tp_data_header_size(bool sequencing) { return sequencing ? 10 : 6; }
void write_l2tp_data_header(uint8_t* p, uint16_t peer_tunnel_id, uint16_t peer_session_id, bool sequencing,
                            uint16_t ns);

enum class PppError : uint8_t { Ok, Truncated, BadProtocol };

struct PppFrame {
    uint16_t protocol;
    uint16_t payload_offset;  // from the start of the PPP frame
};

// Accepts frames with and without the address/control field (ACFC, RFC 1661
// 6.6) and with one- or two-byte protocol fields (PFC, RFC 1661 6.5).
inline PppError parse_ppp(const uint8_t* p, size_t len, PppFrame& out);

// What we send: full address/control and two-byte protocol, which every
// peer must accept whatever it negotiated.
inline constexpr size_t kPppHeaderSize = 4;
void write_ppp_header(uint8_t* p, uint16_t protocol);

// Inline for the reason parse_l2tp is.
inline PppError parse_ppp(const uint8_t* p, size_t len, PppFrame& out) {
    size_t offset = 0;
    if (len >= 2 && p[0] == kPppAddress && p[1] == kPppControl) offset = 2;
    if (offset >= len) return PppError::Truncated;
    // RFC 1661 2: protocol values have an odd low byte and an even high byte,
    // so an odd first byte is a compressed one-byte field.
    if (p[offset] & 1) {
        out.protocol = p[offset];
        offset += 1;
    } else {
        if (offset + 2 > len) return PppError::Truncated;
        out.protocol = load_u16(p + offset);
        if (!(out.protocol & 1)) return PppError::BadProtocol;
        offset += 2;
    }
    out.payload_offset = static_cast<uint16_t>(offset);
    return PppError::Ok;
}

}  // namespace conc::proto
