#include "dataplane/port.h"

#include <arpa/inet.h>

#include <cstring>

#include <rte_bus.h>
#include <rte_dev.h>
#include <rte_errno.h>

namespace conc::dp {

namespace {

std::string fail(const char* role, const config::PortConfig& config, const std::string& what, int rc) {
    return std::string("dataplane.") + role + " (" + config.device + "): " + what + ": " + rte_strerror(-rc);
}

}  // namespace

std::string start_port(const char* role, const config::PortConfig& config, uint16_t queues, rte_mempool* pool,
                       PortState& state) {
    // The device name is the devargs up to the first comma ("net_memif0",
    // "0000:03:00.0"); a device the EAL already probed is simply found.
    const std::string name = config.device.substr(0, config.device.find(','));
    uint16_t port_id;
    if (rte_eth_dev_get_port_by_name(name.c_str(), &port_id) != 0) {
        int rc = rte_dev_probe(config.device.c_str());
        if (rc < 0 && rc != -EEXIST) return fail(role, config, "cannot attach device", rc);
        if (rte_eth_dev_get_port_by_name(name.c_str(), &port_id) != 0)
            return fail(role, config, "device attached but no ethdev named " + name, -ENODEV);
    }
    state.port_id = port_id;

    rte_eth_dev_info info{};
    int rc = rte_eth_dev_info_get(port_id, &info);
    if (rc != 0) return fail(role, config, "cannot read device info", rc);
    if (queues > info.max_rx_queues || queues > info.max_tx_queues)
        return fail(role, config,
                    "device has " + std::to_string(info.max_rx_queues) + " RX and " +
                        std::to_string(info.max_tx_queues) + " TX queues, " + std::to_string(queues) +
                        " workers need one of each",
                    -EINVAL);

    rte_eth_conf conf{};
    if (queues > 1) {
        // Spread flows over workers by outer addresses (and ports for NAT-T).
        conf.rxmode.mq_mode = RTE_ETH_MQ_RX_RSS;
        conf.rx_adv_conf.rss_conf.rss_hf = (RTE_ETH_RSS_IP | RTE_ETH_RSS_UDP) & info.flow_type_rss_offloads;
    }
    rc = rte_eth_dev_configure(port_id, queues, queues, &conf);
    if (rc != 0) return fail(role, config, "configure failed", rc);
    uint16_t rx_desc = config.rx_descriptors, tx_desc = config.tx_descriptors;
    rte_eth_dev_adjust_nb_rx_tx_desc(port_id, &rx_desc, &tx_desc);
    const int socket = rte_eth_dev_socket_id(port_id);
    for (uint16_t q = 0; q < queues; ++q) {
        rc = rte_eth_rx_queue_setup(port_id, q, rx_desc, socket, nullptr, pool);
        if (rc != 0) return fail(role, config, "RX queue setup failed", rc);
        rc = rte_eth_tx_queue_setup(port_id, q, tx_desc, socket, nullptr);
        if (rc != 0) return fail(role, config, "TX queue setup failed", rc);
    }
    // Not every vdev can change its MTU; the data plane enforces the
    // configured one on what it builds either way.
    rte_eth_dev_set_mtu(port_id, config.mtu);
    rc = rte_eth_dev_start(port_id);
    if (rc != 0) return fail(role, config, "start failed", rc);
    state.started = true;

    rte_ether_addr mac;
    rte_eth_macaddr_get(port_id, &mac);
    std::memcpy(state.mac, mac.addr_bytes, 6);
    state.address = htonl(config.address);
    std::memcpy(state.ipv6_address, config.ipv6_address.data(), 16);
    if (config.gateway_mac != config::MacAddress{}) {
        state.gateway.mac = state.gateway6.mac = NextHop::pack(config.gateway_mac.data());
    } else {
        state.gateway.ipv4 = htonl(config.gateway);
        state.gateway.resolve = config.gateway != 0;
        std::memcpy(state.gateway6.ipv6, config.gateway_ipv6.data(), 16);
        state.gateway6.resolve = config.gateway_ipv6 != std::array<uint8_t, 16>{};
    }
    return {};
}

void stop_port(const PortState& state) {
    if (!state.started) return;
    rte_eth_dev_stop(state.port_id);
    rte_eth_dev_close(state.port_id);
}

}  // namespace conc::dp
