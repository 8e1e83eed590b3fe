#include "dataplane/stats.h"

#include <cinttypes>
#include <cstdio>

#include "common/json/json.h"

namespace conc::dp {

namespace {

WorkerCounters sum(const WorkerContext* workers, unsigned n) {
    WorkerCounters total;
    for (unsigned i = 0; i < n; ++i) total += workers[i].counters;
    return total;
}

std::string format(const char* fmt, auto... args) {
    char buf[256];
    std::snprintf(buf, sizeof buf, fmt, args...);
    return buf;
}

std::string port_json(const char* role, const PortState& port) {
    rte_eth_stats s{};
    rte_eth_stats_get(port.port_id, &s);
    return format("\"%s\": {\"ipackets\": %" PRIu64 ", \"opackets\": %" PRIu64 ", \"ibytes\": %" PRIu64
                  ", \"obytes\": %" PRIu64 ", \"imissed\": %" PRIu64 ", \"ierrors\": %" PRIu64
                  ", \"oerrors\": %" PRIu64 ", \"rx_nombuf\": %" PRIu64 "}",
                  role, s.ipackets, s.opackets, s.ibytes, s.obytes, s.imissed, s.ierrors, s.oerrors, s.rx_nombuf);
}

}  // namespace

std::string stats_json(const Dataplane& dp, const WorkerContext* workers, unsigned worker_count) {
    std::string out = "{\"counters\": {";
    bool first = true;
    sum(workers, worker_count).for_each([&](const char* name, uint64_t value) {
        out += format("%s\"%s\": %" PRIu64, first ? "" : ", ", name, value);
        first = false;
    });
    out += "}, \"workers\": [";
    for (unsigned i = 0; i < worker_count; ++i) {
        out += format("%s{\"lcore\": %u, \"queue\": %u, \"counters\": {", i ? ", " : "", workers[i].lcore,
                      workers[i].queue);
        first = true;
        workers[i].counters.for_each([&](const char* name, uint64_t value) {
            if (!value) return;
            out += format("%s\"%s\": %" PRIu64, first ? "" : ", ", name, value);
            first = false;
        });
        out += "}}";
    }
    out += "], \"ports\": {" + port_json("access", dp.access) + ", " + port_json("core", dp.core) + "}, \"sas\": [";
    const char* separator = "";
    dp.sas.for_each_in_use([&](uint32_t i) {
        const SecurityAssociation& sa = dp.sas.at(i);
        const SaCounters totals = sa.counter_totals();
        out += format("%s{\"name\": \"%s\", \"spi\": %u, \"direction\": \"%s\", \"packets\": %" PRIu64
                      ", \"bytes\": %" PRIu64 "}",
                      separator, json::json_escape(sa.name).c_str(), sa.spi,
                      sa.direction == config::SaDirection::Inbound ? "in" : "out",
                      totals.packets, totals.bytes);
        separator = ", ";
    });
    out += "], \"sessions\": [";
    separator = "";
    dp.sessions.for_each_in_use([&](uint32_t i) {
        const Session& s = dp.sessions.at(i);
        const PacketCounters tx = s.tx_totals();
        // mtu is the effective one: the configured PPP MTU or what fits the access port.
        out += format("%s{\"name\": \"%s\", \"tunnel_id\": %u, \"session_id\": %u, \"mtu\": %u, "
                      "\"rx_packets\": %" PRIu64 ", \"rx_bytes\": %" PRIu64 ", \"tx_packets\": %" PRIu64
                      ", \"tx_bytes\": %" PRIu64 ", \"spoof_drops\": %" PRIu64 "}",
                      separator, json::json_escape(dp.sessions.name(i)).c_str(), s.tunnel_id, s.session_id, s.mtu,
                      s.counters.rx_packets,
                      s.counters.rx_bytes, tx.packets, tx.bytes, s.counters.spoof_drops);
        separator = ", ";
    });
    out += "]}\n";
    return out;
}

std::string stats_text(const Dataplane& dp, const WorkerContext* workers, unsigned worker_count) {
    std::string out;
    for (const auto* port : {&dp.access, &dp.core}) {
        rte_eth_stats s{};
        rte_eth_stats_get(port->port_id, &s);
        out += format("port %-6s rx %12" PRIu64 " pkts  tx %12" PRIu64 " pkts  missed %" PRIu64 "  nombuf %" PRIu64
                      "\n",
                      port == &dp.access ? "access" : "core", s.ipackets, s.opackets, s.imissed, s.rx_nombuf);
    }
    sum(workers, worker_count).for_each([&](const char* name, uint64_t value) {
        if (value) out += format("  %-32s %" PRIu64 "\n", name, value);
    });
    return out;
}

}  // namespace conc::dp
