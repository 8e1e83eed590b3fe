// concentrator-dp: the DPDK primary process. Loads and validates the
// configuration before touching anything, brings up the access and core
// ports, installs the static SAs, runs one worker per lcore and reports.
#include <getopt.h>
#include <signal.h>
#include <unistd.h>

#include <atomic>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <memory>
#include <string>
#include <vector>

#include <rte_cycles.h>
#include <rte_eal.h>
#include <rte_launch.h>
#include <rte_lcore.h>
#include <rte_mbuf.h>

#include "common/config/config.h"
#include "dataplane/control.h"
#include "dataplane/dataplane.h"
#include "dataplane/stats.h"
#include "dataplane/worker.h"

using namespace conc;

namespace {

std::atomic<int> g_stop_signal{0};
std::atomic<bool> g_dump_stats{false};
std::atomic<bool> g_hangup{false};

void on_signal(int sig) {
    if (sig == SIGUSR1) g_dump_stats = true;
    else if (sig == SIGHUP) g_hangup = true;  // what operators send for a reload: never a stop
    else g_stop_signal = sig;
}

void usage(const char* prog) {
    std::fprintf(stderr,
                 "usage: %s -c CONFIG [--check] [--no-static] [--stats-json FILE]\n"
                 "  -c, --config FILE     configuration file (libconfig)\n"
                 "      --check           validate the configuration and exit\n"
                 "      --no-static       leave the config's static SAs and sessions to concentrator-cp\n"
                 "      --stats-json FILE write counters as JSON here on SIGUSR1 and at exit\n",
                 prog);
}

bool write_file(const std::string& path, const std::string& text) {
    const std::string tmp = path + ".tmp";
    {
        std::ofstream out(tmp, std::ios::trunc);
        if (!(out << text)) return false;
    }
    return std::rename(tmp.c_str(), path.c_str()) == 0;  // readers never see half a file
}

}  // namespace

int main(int argc, char** argv) {
    std::string config_path, stats_path;
    bool check_only = false, install_static = true;
    static const option options[] = {{"config", required_argument, nullptr, 'c'},
                                     {"check", no_argument, nullptr, 'k'},
                                     {"stats-json", required_argument, nullptr, 's'},
                                     {"no-static", no_argument, nullptr, 'n'},
                                     {"help", no_argument, nullptr, 'h'},
                                     {nullptr, 0, nullptr, 0}};
    for (int opt; (opt = getopt_long(argc, argv, "c:h", options, nullptr)) != -1;) {
        switch (opt) {
            case 'c': config_path = optarg; break;
            case 'k': check_only = true; break;
            case 's': stats_path = optarg; break;
            case 'n': install_static = false; break;
            case 'h': usage(argv[0]); return 0;
            default: usage(argv[0]); return 2;
        }
    }
    if (config_path.empty() || optind != argc) {
        usage(argv[0]);
        return 2;
    }

    // Everything is validated before the EAL or any port is touched.
    const std::optional<config::Config> loaded = config::load_or_report(config_path, "concentrator-dp");
    if (!loaded) return 1;
    const config::Config& cfg = *loaded;
    // Without a gateway (resolved) or gateway_mac (fixed) nothing could leave a port.
    for (const auto& [name, port] : {std::pair{"access", &cfg.dataplane.access}, {"core", &cfg.dataplane.core}}) {
        if (port->gateway_mac == config::MacAddress{} && port->gateway == 0) {
            std::fprintf(stderr, "%s: dataplane.%s: neither gateway nor gateway_mac is set (the next hop is required)\n",
                         config_path.c_str(), name);
            return 1;
        }
    }
    if (check_only) {
        std::printf("%s: configuration OK\n", config_path.c_str());
        return 0;
    }

    std::vector<std::string> eal_args = {argv[0]};
    eal_args.insert(eal_args.end(), cfg.dataplane.eal_args.begin(), cfg.dataplane.eal_args.end());
    std::vector<char*> eal_argv;
    for (auto& a : eal_args) eal_argv.push_back(a.data());
    if (rte_eal_init(static_cast<int>(eal_argv.size()), eal_argv.data()) < 0) {
        std::fprintf(stderr, "concentrator-dp: EAL init failed: %s\n", rte_strerror(rte_errno));
        return 1;
    }
    int exit_code = 0;
    const auto& workers_cfg = cfg.dataplane.worker_lcores;
    for (unsigned lcore : workers_cfg) {
        if (!rte_lcore_is_enabled(lcore) || lcore == rte_get_main_lcore()) {
            std::fprintf(stderr,
                         "concentrator-dp: %s: dataplane.workers: lcore %u is not a worker lcore of the EAL "
                         "(check -l/--lcores in dataplane.eal_args; the main lcore cannot be a worker)\n",
                         config_path.c_str(), lcore);
            rte_eal_cleanup();
            return 1;
        }
    }

    auto dp = std::make_unique<conc::dp::Dataplane>();
    dp->install_static = install_static;
    std::vector<conc::dp::WorkerContext> workers;
    const std::string error = conc::dp::dataplane_start(*dp, cfg, workers);
    const unsigned queues = static_cast<unsigned>(workers.size());
    if (!error.empty()) {
        std::fprintf(stderr, "concentrator-dp: %s\n", error.c_str());
        exit_code = 1;
    } else {
        struct sigaction sa {};
        sa.sa_handler = on_signal;
        sigemptyset(&sa.sa_mask);
        for (int sig : {SIGINT, SIGTERM, SIGUSR1, SIGHUP}) sigaction(sig, &sa, nullptr);
        std::printf("concentrator-dp: access port %u, core port %u, %u worker(s), %u SA(s); running\n",
                    dp->access.port_id, dp->core.port_id, queues, dp->sas.size());
        std::fflush(stdout);
        for (auto& w : workers) rte_eal_remote_launch(conc::dp::worker_main, &w, w.lcore);

        uint64_t next_print = rte_get_timer_cycles() + cfg.dataplane.stats_interval * rte_get_timer_hz();
        // The main lcore applies the control plane's commands and publishes
        // counters; the workers never wait for it.
        while (!g_stop_signal) {
            usleep(1000);
            conc::dp::control_poll(*dp, workers.data(), queues);
            if (g_hangup.exchange(false)) {
                std::printf("concentrator-dp: SIGHUP: reloading is not supported yet; the running configuration stays\n");
                std::fflush(stdout);
            }
            if (g_dump_stats.exchange(false) && !stats_path.empty())
                write_file(stats_path, conc::dp::stats_json(*dp, workers.data(), queues));
            if (cfg.dataplane.stats_interval && rte_get_timer_cycles() >= next_print) {
                std::printf("%s", conc::dp::stats_text(*dp, workers.data(), queues).c_str());
                std::fflush(stdout);
                next_print += cfg.dataplane.stats_interval * rte_get_timer_hz();
            }
        }
        std::printf("concentrator-dp: %s, stopping\n", strsignal(g_stop_signal));
        dp->stop = true;
        rte_eal_mp_wait_lcore();
        std::printf("%s", conc::dp::stats_text(*dp, workers.data(), queues).c_str());
        if (!stats_path.empty() && !write_file(stats_path, conc::dp::stats_json(*dp, workers.data(), queues))) {
            std::fprintf(stderr, "concentrator-dp: cannot write %s\n", stats_path.c_str());
            exit_code = 1;
        }
    }
    conc::dp::dataplane_stop(*dp, workers);
    dp.reset();
    rte_eal_cleanup();
    return exit_code;
}
