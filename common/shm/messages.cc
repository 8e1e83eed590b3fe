#include "common/shm/messages.h"

#include <algorithm>
#include <cstring>

namespace conc::shm {

const char* command_status_name(CommandStatus s) {
    switch (s) {
        case CommandStatus::Ok: return "ok";
        case CommandStatus::BadVersion: return "bad-version";
        case CommandStatus::BadCommand: return "bad-command";
        case CommandStatus::TableFull: return "table-full";
        case CommandStatus::Duplicate: return "duplicate";
        case CommandStatus::NoSuchEntry: return "no-such-entry";
        case CommandStatus::InUse: return "in-use";
    }
    return "unknown";
}

static_assert(config::kMaxNameLength < kNameSize, "a configured name must fit the shared fields whole");

void copy_name(char (&field)[kNameSize], const std::string& name) {
    std::memset(field, 0, kNameSize);
    std::memcpy(field, name.data(), std::min<size_t>(name.size(), kNameSize - 1));
}

std::string name_of(const char (&field)[kNameSize]) { return std::string(field, strnlen(field, kNameSize)); }

SaSpec to_sa_spec(const config::StaticSa& sa) {
    SaSpec spec{};
    copy_name(spec.name, sa.name);
    spec.spi = sa.spi;
    spec.direction = static_cast<uint8_t>(sa.direction);
    spec.cipher = static_cast<uint8_t>(sa.cipher);
    spec.integrity = static_cast<uint8_t>(sa.integrity);
    spec.udp_encap = sa.udp_encap;
    spec.cipher_key_length = static_cast<uint8_t>(std::min(sa.cipher_key.size(), sizeof spec.cipher_key));
    spec.integrity_key_length = static_cast<uint8_t>(std::min(sa.integrity_key.size(), sizeof spec.integrity_key));
    // std::copy_n, not memcpy: an empty key (GCM has no integrity key) has a null data().
    std::copy_n(sa.cipher_key.begin(), spec.cipher_key_length, spec.cipher_key);
    std::copy_n(sa.integrity_key.begin(), spec.integrity_key_length, spec.integrity_key);
    spec.local_port = sa.local_port;
    spec.peer_port = sa.peer_port;
    spec.local_address = sa.local_address;
    spec.peer_address = sa.peer_address;
    spec.replay_window = sa.replay_window;
    spec.first_sequence = sa.first_sequence;
    return spec;
}

bool from_sa_spec(const SaSpec& spec, config::StaticSa& out, const char** why) {
    if (spec.direction > static_cast<uint8_t>(config::SaDirection::Outbound)) return *why = "bad direction", false;
    if (spec.cipher > static_cast<uint8_t>(proto::EspCipher::TripleDesCbc)) return *why = "unknown cipher", false;
    if (spec.integrity > static_cast<uint8_t>(proto::EspIntegrity::HmacSha512_256))
        return *why = "unknown integrity algorithm", false;
    const auto cipher = static_cast<proto::EspCipher>(spec.cipher);
    const auto integrity = static_cast<proto::EspIntegrity>(spec.integrity);
    // RFC 4303 3.2: ESP without integrity only with a combined-mode cipher.
    if (!proto::cipher_info(cipher).aead && integrity == proto::EspIntegrity::None)
        return *why = "a non-AEAD cipher needs an integrity algorithm", false;
    if (spec.cipher_key_length > sizeof spec.cipher_key || spec.integrity_key_length > sizeof spec.integrity_key)
        return *why = "key longer than the field", false;
    if (spec.replay_window > config::kMaxReplayWindow) return *why = "replay window too large", false;
    // Kept in 64-bit blocks: 1-63 would be none at all (anti-replay off), others cut short.
    if (spec.replay_window % 64) return *why = "replay window not a multiple of 64", false;
    if (spec.peer_address == 0) return *why = "no peer address", false;
    out = config::StaticSa{};
    out.name = name_of(spec.name);
    out.direction = static_cast<config::SaDirection>(spec.direction);
    out.spi = spec.spi;
    out.cipher = cipher;
    out.integrity = integrity;
    out.cipher_key.assign(spec.cipher_key, spec.cipher_key + spec.cipher_key_length);
    out.integrity_key.assign(spec.integrity_key, spec.integrity_key + spec.integrity_key_length);
    out.local_address = spec.local_address;
    out.peer_address = spec.peer_address;
    out.udp_encap = spec.udp_encap != 0;
    out.local_port = spec.local_port;
    out.peer_port = spec.peer_port;
    out.replay_window = spec.replay_window;
    out.first_sequence = spec.first_sequence ? spec.first_sequence : 1;
    return true;
}

SessionSpec to_session_spec(const config::StaticSession& session, uint32_t sa_in, uint32_t sa_out) {
    SessionSpec spec{};
    copy_name(spec.name, session.name);
    spec.sa_in = sa_in;
    spec.sa_out = sa_out;
    spec.tunnel_id = session.tunnel_id;
    spec.session_id = session.session_id;
    spec.peer_tunnel_id = session.peer_tunnel_id;
    spec.peer_session_id = session.peer_session_id;
    spec.client_ipv4 = session.client_ipv4;
    std::memcpy(spec.client_ipv6_prefix, session.client_ipv6_prefix.data(), 16);
    spec.client_ipv6_prefix_length = session.client_ipv6_prefix_length;
    spec.sequencing = session.sequencing;
    spec.mtu = session.mtu;
    spec.mss_clamp = session.mss_clamp;
    return spec;
}

bool from_session_spec(const SessionSpec& spec, config::StaticSession& out, const char** why) {
    // RFC 2661 3.1: id 0 is reserved (it addresses the tunnel itself).
    if (spec.tunnel_id == 0 || spec.session_id == 0) return *why = "tunnel and session ids must not be 0", false;
    if (spec.client_ipv6_prefix_length > 128) return *why = "IPv6 prefix length over 128", false;
    if (spec.client_ipv4 == 0 && spec.client_ipv6_prefix_length == 0)
        return *why = "a session needs a client IPv4 address or IPv6 prefix", false;
    // The config's bounds: 576 is RFC 791's minimum reassembly size.
    if (spec.mtu < 576 || spec.mtu > 9000) return *why = "MTU outside 576..9000", false;
    if (spec.mss_clamp != 0 && spec.mss_clamp < 536) return *why = "MSS clamp below 536", false;
    out = config::StaticSession{};
    out.name = name_of(spec.name);
    out.tunnel_id = spec.tunnel_id;
    out.session_id = spec.session_id;
    out.peer_tunnel_id = spec.peer_tunnel_id;
    out.peer_session_id = spec.peer_session_id;
    out.client_ipv4 = spec.client_ipv4;
    std::memcpy(out.client_ipv6_prefix.data(), spec.client_ipv6_prefix, 16);
    out.client_ipv6_prefix_length = spec.client_ipv6_prefix_length;
    out.sequencing = spec.sequencing != 0;
    out.mtu = spec.mtu;
    out.mss_clamp = spec.mss_clamp;
    return true;
}

}  // namespace conc::shm
