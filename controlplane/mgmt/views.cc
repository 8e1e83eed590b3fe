#include "controlplane/mgmt/views.h"

#include <arpa/inet.h>

#include <cinttypes>
#include <cstdio>
#include <vector>

#include "common/config/config.h"
#include "common/proto/esp.h"
#include "common/shm/messages.h"
#include "common/json/json.h"

namespace conc::cp::mgmt {

namespace {

std::string format(const char* fmt, auto... args) {
    char buf[512];
    std::snprintf(buf, sizeof buf, fmt, args...);
    return buf;
}

std::string ipv6_prefix(const uint8_t* prefix, uint8_t length) {
    if (!length) return "";
    char text[INET6_ADDRSTRLEN];
    inet_ntop(AF_INET6, prefix, text, sizeof text);
    return std::string(text) + "/" + std::to_string(length);
}

std::string ipv4(uint32_t host_order) { return host_order ? config::format_ipv4(host_order) : ""; }

std::string integrity_name(uint8_t integrity) {
    return integrity ? std::string(proto::integrity_info(static_cast<proto::EspIntegrity>(integrity)).name) : "-";
}

}  // namespace

std::string show_sessions(const DataplaneLink& dp, bool json) {
    const uint32_t high = dp.state().session_high_water.load(std::memory_order_acquire);
    std::string out = json ? "{\"sessions\": [" : "";
    if (!json)
        out += format("%-20s %7s %7s %-15s %-24s %5s %-22s %12s %12s %8s\n", "NAME", "TUNNEL", "SESSION", "CLIENT",
                      "IPV6 PREFIX", "MTU", "PEER", "RX PKTS", "TX PKTS", "SPOOFED");
    bool first = true;
    unsigned count = 0;
    for (uint32_t i = 0; i < high; ++i) {
        const shm::PublishedSession& s = dp.session(i);
        if (!std::atomic_ref<const uint32_t>(s.in_use).load(std::memory_order_acquire)) continue;
        ++count;
        const shm::PublishedSa& in = dp.sa(s.sa_in);
        const std::string peer = ipv4(in.peer_address) + (in.udp_encap ? ":" + std::to_string(in.peer_port) : "");
        const std::string name = shm::name_of(s.name);
        if (json) {
            out += format("%s{\"index\": %u, \"name\": \"%s\", \"tunnel_id\": %u, \"session_id\": %u, "
                          "\"peer_tunnel_id\": %u, \"peer_session_id\": %u, \"client_ipv4\": \"%s\", "
                          "\"client_ipv6_prefix\": \"%s\", \"mtu\": %u, \"configured_mtu\": %u, \"sequencing\": %s, ",
                          first ? "" : ", ", i, json::json_escape(name).c_str(), s.tunnel_id, s.session_id,
                          s.peer_tunnel_id, s.peer_session_id, ipv4(s.client_ipv4).c_str(),
                          ipv6_prefix(s.client_ipv6_prefix, s.client_ipv6_prefix_length).c_str(), s.mtu,
                          s.configured_mtu, s.sequencing ? "true" : "false");
            out += format("\"peer\": \"%s\", \"sa_in\": \"%s\", \"sa_out\": \"%s\", \"rx_packets\": %" PRIu64
                          ", \"rx_bytes\": %" PRIu64 ", \"tx_packets\": %" PRIu64 ", \"tx_bytes\": %" PRIu64
                          ", \"spoof_drops\": %" PRIu64 "}",
                          peer.c_str(), json::json_escape(shm::name_of(in.name)).c_str(),
                          json::json_escape(shm::name_of(dp.sa(s.sa_out).name)).c_str(), s.rx_packets, s.rx_bytes,
                          s.tx_packets, s.tx_bytes, s.spoof_drops);
        } else {
            out += format("%-20s %7u %7u %-15s %-24s %5u %-22s %12" PRIu64 " %12" PRIu64 " %8" PRIu64 "\n",
                          name.c_str(), s.tunnel_id, s.session_id, ipv4(s.client_ipv4).c_str(),
                          ipv6_prefix(s.client_ipv6_prefix, s.client_ipv6_prefix_length).c_str(), s.mtu,
                          peer.c_str(), s.rx_packets, s.tx_packets, s.spoof_drops);
        }
        first = false;
    }
    if (json) out += "]}";
    else out += format("%u session(s)\n", count);
    return out;
}

std::string show_sas(const DataplaneLink& dp, bool json) {
    const uint32_t high = dp.state().sa_high_water.load(std::memory_order_acquire);
    std::string out = json ? "{\"sas\": [" : "";
    if (!json)
        out += format("%-20s %-10s %-3s %-12s %-7s %-22s %8s %12s %14s\n", "NAME", "SPI", "DIR", "CIPHER", "AUTH",
                      "PEER", "SESSIONS", "PACKETS", "BYTES");
    bool first = true;
    unsigned count = 0;
    for (uint32_t i = 0; i < high; ++i) {
        const shm::PublishedSa& sa = dp.sa(i);
        if (!std::atomic_ref<const uint32_t>(sa.in_use).load(std::memory_order_acquire)) continue;
        ++count;
        const char* direction = sa.direction == 0 ? "in" : "out";
        const std::string cipher(proto::cipher_info(static_cast<proto::EspCipher>(sa.cipher)).name);
        const std::string integrity = integrity_name(sa.integrity);
        const std::string peer = ipv4(sa.peer_address) + (sa.udp_encap ? ":" + std::to_string(sa.peer_port) : "");
        const std::string name = shm::name_of(sa.name);
        if (json) {
            out += format("%s{\"index\": %u, \"name\": \"%s\", \"spi\": \"0x%08x\", \"direction\": \"%s\", "
                          "\"cipher\": \"%s\", \"integrity\": \"%s\", \"peer\": \"%s\", \"udp_encap\": %s, "
                          "\"sessions\": %u, \"packets\": %" PRIu64 ", \"bytes\": %" PRIu64,
                          first ? "" : ", ", i, json::json_escape(name).c_str(), sa.spi, direction, cipher.c_str(),
                          integrity.c_str(), peer.c_str(), sa.udp_encap ? "true" : "false", sa.sessions, sa.packets,
                          sa.bytes);
            if (sa.direction != 0) out += format(", \"next_sequence\": %" PRIu64, sa.next_sequence);
            out += "}";
        } else {
            out += format("%-20s 0x%08x %-3s %-12s %-7s %-22s %8u %12" PRIu64 " %14" PRIu64 "\n", name.c_str(),
                          sa.spi, direction, cipher.c_str(), integrity.c_str(), peer.c_str(), sa.sessions, sa.packets,
                          sa.bytes);
        }
        first = false;
    }
    if (json) out += "]}";
    else out += format("%u SA(s)\n", count);
    return out;
}

std::string show_stats(const DataplaneLink& dp, const ControlCounters& control, bool json) {
    const shm::SharedState& state = dp.state();
    const unsigned workers = state.worker_count < shm::kMaxWorkers ? state.worker_count : shm::kMaxWorkers;
    shm::WorkerCounters total;
    for (unsigned i = 0; i < workers; ++i) total += state.workers[i];
    const auto port_json = [](const char* role, const shm::PortCounters& p) {
        return format("\"%s\": {\"ipackets\": %" PRIu64 ", \"opackets\": %" PRIu64 ", \"ibytes\": %" PRIu64
                      ", \"obytes\": %" PRIu64 ", \"imissed\": %" PRIu64 ", \"ierrors\": %" PRIu64
                      ", \"oerrors\": %" PRIu64 ", \"rx_nombuf\": %" PRIu64 "}",
                      role, p.ipackets, p.opackets, p.ibytes, p.obytes, p.imissed, p.ierrors, p.oerrors, p.rx_nombuf);
    };
    std::string out;
    if (json) {
        out = format("{\"dataplane\": {\"pid\": %d, \"started\": %" PRIu64 ", \"ports\": {", state.dataplane_pid,
                     state.started_unix);
        out += port_json("access", state.access_port) + ", " + port_json("core", state.core_port) + "}, \"counters\": {";
        bool first = true;
        total.for_each([&](const char* name, uint64_t v) {
            out += format("%s\"%s\": %" PRIu64, first ? "" : ", ", name, v);
            first = false;
        });
        out += "}, \"workers\": [";
        for (unsigned w = 0; w < workers; ++w) {
            out += format("%s{\"lcore\": %u, \"counters\": {", w ? ", " : "", state.worker_lcore[w]);
            first = true;
            state.workers[w].for_each([&](const char* name, uint64_t v) {
                if (!v) return;
                out += format("%s\"%s\": %" PRIu64, first ? "" : ", ", name, v);
                first = false;
            });
            out += "}}";
        }
        out += "]}, \"controlplane\": {";
        first = true;
        control.for_each([&](const char* name, uint64_t v) {
            out += format("%s\"%s\": %" PRIu64, first ? "" : ", ", name, v);
            first = false;
        });
        out += "}}";
        return out;
    }
    for (const auto& [role, p] : {std::pair{"access", &state.access_port}, {"core", &state.core_port}})
        out += format("port %-6s rx %12" PRIu64 " pkts %14" PRIu64 " bytes  tx %12" PRIu64 " pkts %14" PRIu64
                      " bytes  missed %" PRIu64 "  errors %" PRIu64 "/%" PRIu64 "  nombuf %" PRIu64 "\n",
                      role, p->ipackets, p->ibytes, p->opackets, p->obytes, p->imissed, p->ierrors, p->oerrors,
                      p->rx_nombuf);
    out += format("%-32s %14s", "data plane", "total");
    for (unsigned w = 0; w < workers; ++w) out += format(" %12s", ("lcore " + std::to_string(state.worker_lcore[w])).c_str());
    out += "\n";
    // Each worker's counters in list order, printed beside the total.
    std::vector<std::vector<uint64_t>> per_worker(workers);
    for (unsigned w = 0; w < workers; ++w)
        state.workers[w].for_each([&](const char*, uint64_t x) { per_worker[w].push_back(x); });
    size_t position = 0;
    // Zero counters are left out: what happened is what an operator looks for.
    total.for_each([&](const char* name, uint64_t v) {
        const size_t at = position++;
        if (!v) return;
        out += format("  %-30s %14" PRIu64, name, v);
        for (unsigned w = 0; w < workers; ++w) out += format(" %12" PRIu64, per_worker[w][at]);
        out += "\n";
    });
    out += "control plane\n";
    control.for_each([&](const char* name, uint64_t v) {
        if (v) out += format("  %-30s %14" PRIu64 "\n", name, v);
    });
    return out;
}

}  // namespace conc::cp::mgmt
