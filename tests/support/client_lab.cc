#include "tests/support/client_lab.h"

#include <cstring>

#include "common/proto/ipv4.h"

namespace conc::test {

unsigned ClientLab::add_client(const ClientSpec& s) {
    const unsigned i = static_cast<unsigned>(specs_.size());
    const std::string id = std::to_string(i);
    auto in = make_sa("in" + id, config::SaDirection::Inbound, 0x1000 + i, s.cipher, s.integrity, s.public_address,
                      s.udp_encap, 11 + i);
    auto out = make_sa("out" + id, config::SaDirection::Outbound, 0x2000 + i, s.cipher, s.integrity,
                       s.public_address, s.udp_encap, 101 + i);
    in.peer_port = out.peer_port = s.nat_port;
    cfg_.ipsec.static_sas.push_back(in);
    cfg_.ipsec.static_sas.push_back(out);
    config::StaticSession session;
    session.name = "client" + id;
    session.sa_in = in.name;
    session.sa_out = out.name;
    session.tunnel_id = s.tunnel_id;
    session.session_id = s.session_id;
    session.peer_tunnel_id = s.peer_tunnel_id;
    session.peer_session_id = s.peer_session_id;
    session.client_ipv4 = s.address;
    if (s.ipv6_index) {
        session.client_ipv6_prefix = {0x20, 0x01, 0x0d, 0xb8, 0x01, 0x00, 0, s.ipv6_index};
        session.client_ipv6_prefix_length = 64;
    }
    session.mtu = s.mtu;
    session.sequencing = s.sequencing;
    cfg_.l2tp.static_sessions.push_back(session);
    specs_.push_back(s);
    return i;
}

std::string ClientLab::start() {
    for (unsigned i = 0; i < specs_.size(); ++i)
        clients_.push_back(std::make_unique<L2tpClient>(sa_in(i), sa_out(i), cfg_.l2tp.static_sessions[i],
                                                        cfg_.dataplane.access.address));
    return ring_.start(cfg_);
}

void ClientLab::client_ipv6(unsigned i, uint8_t out[16]) const {
    const auto& prefix = cfg_.l2tp.static_sessions[i].client_ipv6_prefix;
    std::memcpy(out, prefix.data(), 16);
    out[15] = 0x42;
}

void ClientLab::run(const std::vector<std::vector<uint8_t>>& frames, bool to_access) {
    std::vector<rte_mbuf*> in;
    for (const auto& f : frames) in.push_back(mbuf_from(ring_.pool(), f));
    const unsigned queued = to_access ? ring_.inject_access(in.data(), static_cast<unsigned>(in.size()))
                                      : ring_.inject_core(in.data(), static_cast<unsigned>(in.size()));
    for (size_t i = queued; i < in.size(); ++i) rte_pktmbuf_free(in[i]);
    ring_.poll_until_idle();
    core_out_ = ring_.take_core();
    access_out_ = ring_.take_access();
}

std::vector<std::vector<uint8_t>> ClientLab::upstream(const std::vector<std::vector<uint8_t>>& frames) {
    run(frames, true);
    return core_out_;
}

std::vector<uint8_t> frame_from_core_host(const std::vector<uint8_t>& ip) {
    const uint8_t dp_mac[6] = {0x02, 0, 0, 0, 9, 9}, host_mac[6] = {0x02, 0, 0, 0, 2, 1};
    std::vector<uint8_t> f(14);
    proto::write_ethernet_header(f.data(), dp_mac, host_mac,
                                 (ip[0] >> 4) == 6 ? proto::kEtherTypeIpv6 : proto::kEtherTypeIpv4);
    f.insert(f.end(), ip.begin(), ip.end());
    return f;
}

std::vector<std::vector<uint8_t>> ClientLab::downstream(const std::vector<std::vector<uint8_t>>& ip_packets) {
    std::vector<std::vector<uint8_t>> frames;
    for (const auto& ip : ip_packets) frames.push_back(frame_from_core_host(ip));
    run(frames, false);
    return access_out_;
}

}  // namespace conc::test
