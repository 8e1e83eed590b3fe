#include "tests/support/l2tp_client.h"

#include <arpa/inet.h>

#include <cstring>

#include "common/proto/byte_reader.h"
#include "common/proto/ipv4.h"
#include "common/proto/l2tp.h"
#include "dataplane/ipsec/esp_transform.h"

namespace conc::test {

namespace {

const uint8_t kClientMac[6] = {0x02, 0, 0, 0, 1, 1};
const uint8_t kDataplaneMac[6] = {0x02, 0, 0, 0, 9, 9};

dp::SecurityAssociation* twin(IMB_MGR* mgr, config::StaticSa spec, config::SaDirection direction) {
    spec.direction = direction;
    auto* sa = new dp::SecurityAssociation();
    const char* why = nullptr;
    if (!dp::key_security_association(mgr, spec, spec.local_address, *sa, &why)) {
        delete sa;
        return nullptr;
    }
    return sa;
}

// Sum over the pseudo-header (RFC 768 / RFC 8200 8.1) and the segment.
uint16_t l4_checksum(const std::vector<uint8_t>& ip, size_t l4_offset, uint8_t protocol) {
    std::vector<uint8_t> buf;
    const size_t l4_len = ip.size() - l4_offset;
    if ((ip[0] >> 4) == 4) buf.insert(buf.end(), ip.begin() + 12, ip.begin() + 20);
    else buf.insert(buf.end(), ip.begin() + 8, ip.begin() + 40);
    buf.insert(buf.end(), {0, 0, static_cast<uint8_t>(l4_len >> 8), static_cast<uint8_t>(l4_len), 0, 0, 0, protocol});
    buf.insert(buf.end(), ip.begin() + static_cast<long>(l4_offset), ip.end());
    return proto::internet_checksum(buf.data(), buf.size());
}

void set_l4_checksum(std::vector<uint8_t>& ip, size_t l4_offset, uint8_t protocol) {
    const size_t at = l4_offset + (protocol == proto::kIpProtoUdp ? 6 : 16);
    proto::write_u16(&ip[at], 0);
    uint16_t sum = l4_checksum(ip, l4_offset, protocol);
    if (protocol == proto::kIpProtoUdp && sum == 0) sum = 0xFFFF;
    proto::write_u16(&ip[at], sum);
}

std::vector<uint8_t> ipv4_header(uint32_t source, uint32_t destination, uint8_t protocol, size_t l4_len, uint8_t ttl,
                                 uint16_t flags) {
    std::vector<uint8_t> ip(20);
    proto::write_ipv4_header(ip.data(), htonl(source), htonl(destination), protocol,
                             static_cast<uint16_t>(20 + l4_len), ttl, 0x1234, flags);
    return ip;
}

std::vector<uint8_t> ipv6_header(const uint8_t source[16], const uint8_t destination[16], uint8_t next_header,
                                 size_t l4_len, uint8_t hop_limit) {
    std::vector<uint8_t> ip(40, 0);
    ip[0] = 0x60;
    proto::write_u16(&ip[4], static_cast<uint16_t>(l4_len));
    ip[6] = next_header;
    ip[7] = hop_limit;
    std::memcpy(&ip[8], source, 16);
    std::memcpy(&ip[24], destination, 16);
    return ip;
}

std::vector<uint8_t> udp_segment(uint16_t sport, uint16_t dport, const std::vector<uint8_t>& payload) {
    std::vector<uint8_t> udp(8);
    proto::write_udp_header(udp.data(), sport, dport, static_cast<uint16_t>(8 + payload.size()));
    udp.insert(udp.end(), payload.begin(), payload.end());
    return udp;
}

std::vector<uint8_t> tcp_syn_segment(uint16_t mss) {
    std::vector<uint8_t> tcp(24, 0);
    proto::write_u16(&tcp[0], 40000);
    proto::write_u16(&tcp[2], 443);
    proto::write_u32(&tcp[4], 0x01020304);
    tcp[12] = 6 << 4;   // data offset: 24 bytes
    tcp[13] = 0x02;     // SYN
    proto::write_u16(&tcp[14], 64240);
    tcp[20] = 2;        // MSS option
    tcp[21] = 4;
    proto::write_u16(&tcp[22], mss);
    return tcp;
}

}  // namespace

L2tpClient::L2tpClient(const config::StaticSa& dp_in, const config::StaticSa& dp_out,
                       const config::StaticSession& session, uint32_t dp_access_address)
    : session_(session), dp_address_(dp_access_address), client_public_(dp_in.peer_address),
      peer_port_(dp_in.peer_port) {
    mgr_ = alloc_mb_mgr(0);
    init_mb_mgr_auto(mgr_, nullptr);
    send_ = twin(mgr_, dp_in, config::SaDirection::Outbound);
    receive_ = twin(mgr_, dp_out, config::SaDirection::Inbound);
}

L2tpClient::~L2tpClient() {
    delete send_;
    delete receive_;
    free_mb_mgr(mgr_);
}

std::vector<uint8_t> L2tpClient::upstream_bytes(const std::vector<uint8_t>& inner, uint16_t ppp_protocol,
                                                const L2tpFraming& f, uint32_t seq) {
    // PPP frame.
    std::vector<uint8_t> ppp;
    if (f.address_control) ppp.insert(ppp.end(), {proto::kPppAddress, proto::kPppControl});
    if (f.one_byte_protocol) ppp.push_back(static_cast<uint8_t>(ppp_protocol));
    else ppp.insert(ppp.end(), {static_cast<uint8_t>(ppp_protocol >> 8), static_cast<uint8_t>(ppp_protocol)});
    ppp.insert(ppp.end(), inner.begin(), inner.end());

    // L2TP header (RFC 2661 3.1).
    uint16_t flags = f.version;
    if (f.control) flags |= proto::kL2tpFlagType;
    if (f.length_field) flags |= proto::kL2tpFlagLength;
    if (f.sequence) flags |= proto::kL2tpFlagSequence;
    const bool offset = f.offset_size > 0 || f.force_offset;
    if (offset) flags |= proto::kL2tpFlagOffset;
    std::vector<uint8_t> l2tp(2);
    proto::write_u16(l2tp.data(), flags);
    auto put16 = [&](uint16_t v) { l2tp.insert(l2tp.end(), {static_cast<uint8_t>(v >> 8), static_cast<uint8_t>(v)}); };
    if (f.length_field) put16(0);  // filled in below
    put16(f.tunnel_id >= 0 ? static_cast<uint16_t>(f.tunnel_id) : session_.tunnel_id);
    put16(f.session_id >= 0 ? static_cast<uint16_t>(f.session_id) : session_.session_id);
    if (f.sequence) put16(7), put16(3);
    if (offset) {
        put16(f.offset_size);
        l2tp.insert(l2tp.end(), f.offset_size, 0xEE);
    }
    l2tp.insert(l2tp.end(), ppp.begin(), ppp.end());
    if (f.length_field) proto::write_u16(&l2tp[2], static_cast<uint16_t>(l2tp.size()));
    const std::vector<uint8_t> udp = udp_segment(proto::kL2tpPort, f.udp_destination, l2tp);

    // ESP (transport) in the outer IPv4, + UDP 4500 for NAT-T.
    const dp::SecurityAssociation& sa = *send_;
    const uint16_t udp_size = sa.udp_encap ? 8 : 0;
    const uint32_t payload_len = static_cast<uint32_t>(udp.size());
    std::vector<uint8_t> frame(14 + 20 + udp_size + dp::esp_header_room(sa) + payload_len +
                               dp::esp_trailer_room(sa, payload_len));
    uint8_t* esp = &frame[14 + 20 + udp_size];
    std::memcpy(esp + dp::esp_header_room(sa), udp.data(), payload_len);
    const uint8_t iv[16] = {0xA5, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15};
    if (seq == 0) seq = next_seq_++;
    dp::EspJobScratch scratch{};
    IMB_JOB* job = IMB_GET_NEXT_JOB(mgr_);
    const uint32_t esp_len = dp::prepare_encrypt_job(job, sa, esp, payload_len, proto::kIpProtoUdp, seq, iv, scratch);
    dp::finish_encrypt(dp::run_job_now(mgr_), sa, esp, esp_len, scratch);
    proto::write_ethernet_header(frame.data(), kDataplaneMac, kClientMac, proto::kEtherTypeIpv4);
    proto::write_ipv4_header(&frame[14], htonl(client_public_), htonl(dp_address_),
                             sa.udp_encap ? proto::kIpProtoUdp : proto::kIpProtoEsp,
                             static_cast<uint16_t>(20 + udp_size + esp_len), 64, 1, 0);
    if (sa.udp_encap)
        proto::write_udp_header(&frame[34], peer_port_, ntohs(sa.local_port), static_cast<uint16_t>(8 + esp_len));
    frame.resize(14 + 20 + udp_size + esp_len);
    return frame;
}

rte_mbuf* L2tpClient::upstream(rte_mempool* pool, const std::vector<uint8_t>& inner, uint16_t ppp_protocol,
                               const L2tpFraming& framing, uint32_t seq) {
    const std::vector<uint8_t> bytes = upstream_bytes(inner, ppp_protocol, framing, seq);
    rte_mbuf* m = rte_pktmbuf_alloc(pool);
    if (!m) return nullptr;
    std::memcpy(rte_pktmbuf_append(m, static_cast<uint16_t>(bytes.size())), bytes.data(), bytes.size());
    return m;
}

bool L2tpClient::downstream(const uint8_t* frame, size_t len, Downstream& out, std::string& why) {
    if (len < 34 || proto::load_u16(frame + 12) != proto::kEtherTypeIpv4) return why = "not IPv4", false;
    proto::Ipv4Header ip;
    if (proto::parse_ipv4(frame + 14, len - 14, ip) != proto::Ipv4Error::Ok) return why = "bad outer IPv4", false;
    out.outer_source = ntohl(ip.source);
    out.outer_destination = ntohl(ip.destination);
    size_t offset = 14 + ip.header_length;
    out.udp_encap = ip.protocol == proto::kIpProtoUdp;
    if (out.udp_encap) {
        proto::UdpHeader u;
        if (!proto::parse_udp(frame + offset, ip.total_length - ip.header_length, u)) return why = "bad UDP", false;
        out.udp_source = u.source_port;
        out.udp_destination = u.destination_port;
        offset += 8;
    } else if (ip.protocol != proto::kIpProtoEsp) {
        return why = "neither ESP nor UDP", false;
    }
    std::vector<uint8_t> esp(frame + offset, frame + 14 + ip.total_length);
    out.spi = proto::load_u32(esp.data());
    out.seq = proto::load_u32(esp.data() + 4);
    if (out.spi != receive_->spi) return why = "SPI is not the session's outbound SA", false;
    dp::EspJobScratch scratch{};
    IMB_JOB* job = IMB_GET_NEXT_JOB(mgr_);
    if (dp::prepare_decrypt_job(job, *receive_, esp.data(), static_cast<uint32_t>(esp.size()), scratch) !=
        dp::EspStatus::Ok)
        return why = "ESP too short", false;
    dp::EspPlaintext pt{};
    if (dp::finish_decrypt(dp::run_job_now(mgr_), *receive_, esp.data(), static_cast<uint32_t>(esp.size()), scratch,
                           pt) != dp::EspStatus::Ok)
        return why = "ESP did not authenticate or decrypt", false;
    if (pt.next_header != proto::kIpProtoUdp) return why = "ESP next header not UDP", false;
    const uint8_t* udp = esp.data() + pt.payload_offset;
    proto::UdpHeader u;
    if (!proto::parse_udp(udp, pt.payload_len, u)) return why = "bad inner UDP", false;
    out.inner_udp_source = u.source_port;
    out.inner_udp_destination = u.destination_port;
    proto::L2tpHeader l2tp;
    if (proto::parse_l2tp(udp + 8, u.length - 8u, l2tp) != proto::L2tpError::Ok) return why = "bad L2TP", false;
    out.l2tp_flags = l2tp.flags;
    out.tunnel_id = l2tp.tunnel_id;
    out.session_id = l2tp.session_id;
    out.ns = l2tp.ns;
    proto::PppFrame ppp;
    const uint8_t* ppp_start = udp + 8 + l2tp.payload_offset;
    if (proto::parse_ppp(ppp_start, l2tp.payload_len, ppp) != proto::PppError::Ok) return why = "bad PPP", false;
    out.ppp_protocol = ppp.protocol;
    out.inner.assign(ppp_start + ppp.payload_offset, ppp_start + l2tp.payload_len);
    return true;
}

std::vector<uint8_t> ipv4_udp(uint32_t source, uint32_t destination, uint16_t sport, uint16_t dport,
                              const std::vector<uint8_t>& payload, uint8_t ttl, uint16_t flags) {
    std::vector<uint8_t> udp = udp_segment(sport, dport, payload);
    std::vector<uint8_t> ip = ipv4_header(source, destination, proto::kIpProtoUdp, udp.size(), ttl, flags);
    ip.insert(ip.end(), udp.begin(), udp.end());
    set_l4_checksum(ip, 20, proto::kIpProtoUdp);
    return ip;
}

std::vector<uint8_t> ipv4_tcp_syn(uint32_t source, uint32_t destination, uint16_t mss, uint16_t flags) {
    std::vector<uint8_t> tcp = tcp_syn_segment(mss);
    std::vector<uint8_t> ip = ipv4_header(source, destination, proto::kIpProtoTcp, tcp.size(), 64, flags);
    ip.insert(ip.end(), tcp.begin(), tcp.end());
    set_l4_checksum(ip, 20, proto::kIpProtoTcp);
    return ip;
}

std::vector<uint8_t> ipv6_udp(const uint8_t source[16], const uint8_t destination[16], uint16_t sport, uint16_t dport,
                              const std::vector<uint8_t>& payload, uint8_t hop_limit) {
    std::vector<uint8_t> udp = udp_segment(sport, dport, payload);
    std::vector<uint8_t> ip = ipv6_header(source, destination, proto::kIpProtoUdp, udp.size(), hop_limit);
    ip.insert(ip.end(), udp.begin(), udp.end());
    set_l4_checksum(ip, 40, proto::kIpProtoUdp);
    return ip;
}

std::vector<uint8_t> ipv6_tcp_syn(const uint8_t source[16], const uint8_t destination[16], uint16_t mss) {
    std::vector<uint8_t> tcp = tcp_syn_segment(mss);
    std::vector<uint8_t> ip = ipv6_header(source, destination, proto::kIpProtoTcp, tcp.size(), 64);
    ip.insert(ip.end(), tcp.begin(), tcp.end());
    set_l4_checksum(ip, 40, proto::kIpProtoTcp);
    return ip;
}

uint16_t tcp_mss_of(const std::vector<uint8_t>& ip) {
    const size_t l4 = (ip[0] >> 4) == 4 ? (ip[0] & 0x0F) * 4u : 40u;
    if (ip.size() < l4 + 24 || ip[l4 + 20] != 2) return 0;
    return proto::load_u16(&ip[l4 + 22]);
}

bool l4_checksum_ok(const std::vector<uint8_t>& ip) {
    const bool v4 = (ip[0] >> 4) == 4;
    const size_t l4 = v4 ? (ip[0] & 0x0F) * 4u : 40u;
    const uint8_t protocol = v4 ? ip[9] : ip[6];
    return l4_checksum(ip, l4, protocol) == 0;
}

}  // namespace conc::test
