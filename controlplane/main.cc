// concentrator-cp: the control plane. Attaches to a running concentrator-dp
// as a DPDK secondary process, reads its tables back, installs the static
// SAs and sessions of the config that are not there yet, consumes punted
// frames (counted per kind and handed to the protocol hooks: so far LCP
// Echo), sends intents, and serves concentratorctl on the management socket.
// Killing it does not disturb forwarding; starting it again re-attaches.
#include <arpa/inet.h>
#include <getopt.h>
#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <map>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include <rte_eal.h>
#include <rte_errno.h>
#include <rte_log.h>

#include "common/config/config.h"
#include "common/shm/messages.h"
#include "controlplane/dp_link.h"
#include "controlplane/mgmt/ctl_server.h"
#include "common/json/json.h"
#include "controlplane/mgmt/views.h"
#include "controlplane/ppp/lcp_echo.h"

using namespace conc;

namespace {

std::atomic<int> g_stop{0};
void on_signal(int sig) { g_stop = sig; }

void usage(const char* prog) {
    std::fprintf(stderr,
                 "usage: %s -c CONFIG [--socket PATH]\n"
                 "  -c, --config FILE   the concentrator configuration (the data plane's)\n"
                 "      --socket PATH   management socket (default: mgmt.socket of the config)\n",
                 prog);
}

// A secondary process of the data plane's EAL: same --file-prefix (and
// hugepage directory), no devices of its own.
std::vector<std::string> secondary_eal_args(const char* prog, const config::Config& cfg) {
    std::vector<std::string> args = {prog, "--proc-type=secondary", "--no-pci", "--log-level=lib.eal:error"};
    const auto& dp = cfg.dataplane.eal_args;
    for (size_t i = 0; i < dp.size(); ++i) {
        if ((dp[i] == "--file-prefix" || dp[i] == "--huge-dir") && i + 1 < dp.size()) {
            args.push_back(dp[i]);
            args.push_back(dp[i + 1]);
        } else if (dp[i].starts_with("--file-prefix=") || dp[i].starts_with("--huge-dir=")) {
            args.push_back(dp[i]);
        }
    }
    return args;
}

class ControlPlane {
public:
    ControlPlane(const config::Config& cfg, cp::DataplaneLink& dp) : cfg_(cfg), dp_(dp) {}

    // Installs the config's static SAs and sessions the data plane lacks.
    bool install_static() {
        std::map<std::string, uint32_t> sa_by_name, session_by_name;
        for (uint32_t i = 0; i < dp_.state().sa_high_water; ++i)
            if (dp_.sa(i).in_use) sa_by_name[shm::name_of(dp_.sa(i).name)] = i;
        for (uint32_t i = 0; i < dp_.state().session_high_water; ++i)
            if (dp_.session(i).in_use) session_by_name[shm::name_of(dp_.session(i).name)] = i;
        std::printf("concentrator-cp: data plane has %zu SA(s) and %zu session(s)\n", sa_by_name.size(),
                    session_by_name.size());
        unsigned added = 0;
        for (const auto& sa : cfg_.ipsec.static_sas) {
            if (sa_by_name.count(sa.name)) continue;
            shm::Command c{};
            c.type = shm::CommandType::AddSa;
            c.sa = shm::to_sa_spec(sa);
            auto index = execute(c, "SA " + sa.name);
            if (!index) return false;
            sa_by_name[sa.name] = *index;
            ++added;
        }
        for (const auto& s : cfg_.l2tp.static_sessions) {
            if (session_by_name.count(s.name)) continue;
            shm::Command c{};
            c.type = shm::CommandType::AddSession;
            c.session = shm::to_session_spec(s, sa_by_name.at(s.sa_in), sa_by_name.at(s.sa_out));
            if (!execute(c, "session " + s.name)) return false;
            ++added;
        }
        std::printf("concentrator-cp: installed %u static entr%s\n", added, added == 1 ? "y" : "ies");
        return true;
    }

    // What became of commands given up on: logged, so that the operator
    // knows an entry went in (or did not) after all.
    void handle_late_acks() {
        for (const cp::LateAck& late : dp_.take_late_acks()) {
            ++counters_.command_acks_late;
            const shm::CommandAck& ack = late.ack;
            std::fprintf(stderr, "concentrator-cp: %s: late answer to command %u: %s (index %u)%s%.*s\n", late.what.c_str(),
                         ack.sequence, shm::command_status_name(ack.status), ack.index, ack.reason[0] ? ": " : "",
                         static_cast<int>(sizeof ack.reason), ack.reason);
        }
    }

    void handle_punts() {
        rte_mbuf* frames[64];
        const unsigned n = dp_.receive_punts(frames, 64);
        for (unsigned i = 0; i < n; ++i) {
            handle_punt(frames[i]);
            cp::DataplaneLink::free_frame(frames[i]);
        }
    }

    std::string handle_request(std::string_view line) {
        const auto command = json::json_string_member(line, "command");
        const bool json = json::json_bool_member(line, "json").value_or(false);
        if (!command) return "{\"error\": \"a request is {\\\"command\\\": \\\"show sessions\\\", \\\"json\\\": false}\"}";
        std::string reply;
        if (*command == "show sessions") reply = cp::mgmt::show_sessions(dp_, json);
        else if (*command == "show sas") reply = cp::mgmt::show_sas(dp_, json);
        else if (*command == "show stats") {
            counters_.command_acks_stale = dp_.stale_acks();
            reply = cp::mgmt::show_stats(dp_, counters_, json);
        }
        else
            return "{\"error\": \"unknown command \\\"" + json::json_escape(*command) +
                   "\\\" (show sessions, show sas, show stats)\"}";
        return json ? reply : "{\"text\": \"" + json::json_escape(reply) + "\"}";
    }

private:
    std::optional<uint32_t> execute(const shm::Command& c, const std::string& what) {
        ++counters_.commands_sent;
        const cp::CommandResult r = dp_.execute(c, what);
        if (r.outcome != cp::CommandResult::Outcome::Acked) {
            ++counters_.commands_failed;
            if (r.outcome == cp::CommandResult::Outcome::Unanswered) ++counters_.commands_unanswered;
            std::fprintf(stderr, "concentrator-cp: %s: command %u: %s\n", what.c_str(), r.sequence,
                         cp::outcome_name(r.outcome));
            return std::nullopt;
        }
        const shm::CommandAck& ack = r.ack;
        if (ack.status != shm::CommandStatus::Ok) {
            ++counters_.commands_failed;
            std::fprintf(stderr, "concentrator-cp: %s: %s: %.*s\n", what.c_str(), shm::command_status_name(ack.status),
                         static_cast<int>(sizeof ack.reason), ack.reason);
            return std::nullopt;
        }
        return ack.index;
    }

    void handle_punt(rte_mbuf* m) {
        shm::PuntHeader h;
        if (rte_pktmbuf_data_len(m) < sizeof h) return void(++counters_.punts_bad_header);
        std::memcpy(&h, rte_pktmbuf_mtod(m, const void*), sizeof h);
        if (h.version != shm::kContractVersion || h.payload_length != rte_pktmbuf_data_len(m) - sizeof h)
            return void(++counters_.punts_bad_header);
        const uint8_t* payload = rte_pktmbuf_mtod_offset(m, const uint8_t*, sizeof h);
        switch (h.kind) {
            case shm::PuntKind::Ike: ++counters_.punts_ike; break;          // IKEv1: the next issue
            case shm::PuntKind::IkeNatT: ++counters_.punts_ike_natt; break;
            case shm::PuntKind::L2tpControl: ++counters_.punts_l2tp_control; break;
            case shm::PuntKind::PeerMoved: move_peer(h); break;
            case shm::PuntKind::PppControl:
                ++counters_.punts_ppp_control;
                if (h.ppp_protocol == cp::ppp::kLcpProtocol) answer_lcp_echo(h, payload);
                break;
            default: ++counters_.punts_bad_header;
        }
    }

    // A NAT gave a client a new public address or port (RFC 3947/3948), and
    // the data plane saw an authenticated packet from there: both SAs of the
    // pair follow, so that downstream goes where the client is now. The
    // outbound SA moves first: the inbound one's peer is what the data plane
    // compares with, so until it has moved too, a half-done move (a command
    // lost) is reported again and finished then.
    void move_peer(const shm::PuntHeader& h) {
        ++counters_.punts_peer_moved;
        const shm::SharedState& state = dp_.state();
        const uint32_t max_sas = state.max_sas, max_sessions = state.max_sessions;
        auto live_sa = [&](uint32_t i) {
            return i < max_sas && std::atomic_ref<const uint32_t>(dp_.sa(i).in_use).load(std::memory_order_acquire);
        };
        auto bound = [&](uint32_t i) {
            return i < max_sessions &&
                   std::atomic_ref<const uint32_t>(dp_.session(i).in_use).load(std::memory_order_acquire) &&
                   dp_.session(i).sa_in == h.sa_index;
        };
        const uint32_t spi = uint32_t{h.tunnel_id} << 16 | h.session_id;
        if (!live_sa(h.sa_index) || dp_.sa(h.sa_index).spi != spi || !dp_.sa(h.sa_index).udp_encap)
            return void(++counters_.peer_move_failures);  // gone, or its slot reused since the report
        // The outbound SA: the session's the punt names, else any session's on this SA.
        uint32_t sa_out = shm::kNoIndex;
        if (bound(h.session_index)) sa_out = dp_.session(h.session_index).sa_out;
        const uint32_t sessions = std::min(state.session_high_water.load(), max_sessions);
        for (uint32_t i = 0; sa_out == shm::kNoIndex && i < sessions; ++i)
            if (bound(i)) sa_out = dp_.session(i).sa_out;
        if (!live_sa(sa_out)) return void(++counters_.peer_move_failures);  // no session: nothing to send to
        const shm::PublishedSa& in = dp_.sa(h.sa_index);
        const std::string from = config::format_ipv4(in.peer_address) + ":" + std::to_string(in.peer_port);
        shm::Command c{};
        c.type = shm::CommandType::UpdateSaPeer;
        c.peer = {ntohl(h.outer_source), ntohs(h.outer_source_port), 0};
        const std::string to = config::format_ipv4(c.peer.address) + ":" + std::to_string(c.peer.port);
        const std::string names = shm::name_of(in.name) + " and " + shm::name_of(dp_.sa(sa_out).name);
        for (uint32_t index : {sa_out, h.sa_index}) {
            c.index = index;
            if (!execute(c, "SA " + shm::name_of(dp_.sa(index).name) + ": moving its peer to " + to))
                return void(++counters_.peer_move_failures);
        }
        ++counters_.peer_moves;
        std::printf("concentrator-cp: SA %s: peer moved from %s to %s (NAT mapping changed)\n", names.c_str(),
                    from.c_str(), to.c_str());
        std::fflush(stdout);
    }

    void answer_lcp_echo(const shm::PuntHeader& h, const uint8_t* lcp) {
        const auto reply = cp::ppp::lcp_echo_reply(lcp, h.payload_length, 0);
        if (!reply) return;
        shm::InjectHeader out{};
        out.kind = shm::InjectKind::PppFrame;
        out.session_index = h.session_index;
        out.ppp_protocol = cp::ppp::kLcpProtocol;
        if (dp_.inject(out, reply->data(), static_cast<uint16_t>(reply->size()))) ++counters_.lcp_echo_replies;
        else ++counters_.inject_failures;
    }

    const config::Config& cfg_;
    cp::DataplaneLink& dp_;
    cp::mgmt::ControlCounters counters_;
};

}  // namespace

int main(int argc, char** argv) {
    std::string config_path, socket_path;
    static const option options[] = {{"config", required_argument, nullptr, 'c'},
                                     {"socket", required_argument, nullptr, 's'},
                                     {"help", no_argument, nullptr, 'h'},
                                     {nullptr, 0, nullptr, 0}};
    for (int opt; (opt = getopt_long(argc, argv, "c:h", options, nullptr)) != -1;) {
        switch (opt) {
            case 'c': config_path = optarg; break;
            case 's': socket_path = optarg; break;
            case 'h': usage(argv[0]); return 0;
            default: usage(argv[0]); return 2;
        }
    }
    if (config_path.empty() || optind != argc) {
        usage(argv[0]);
        return 2;
    }
    const std::optional<config::Config> loaded = config::load_or_report(config_path, "concentrator-cp");
    if (!loaded) return 1;
    const config::Config& cfg = *loaded;
    if (socket_path.empty()) socket_path = cfg.mgmt.socket;
    for (const auto& arg : cfg.dataplane.eal_args)
        if (arg == "--in-memory") {
            std::fprintf(stderr, "concentrator-cp: %s: dataplane.eal_args has --in-memory: a data plane started "
                                 "so cannot be attached to\n", config_path.c_str());
            return 1;
        }

    std::vector<std::string> eal_args = secondary_eal_args(argv[0], cfg);
    std::vector<char*> eal_argv;
    for (auto& a : eal_args) eal_argv.push_back(a.data());
    if (rte_eal_init(static_cast<int>(eal_argv.size()), eal_argv.data()) < 0) {
        // ENOMEM: the data plane's memory sits at addresses this process
        // already uses (its libraries, or a sanitizer's shadow) and cannot
        // be mapped at the same place, as a secondary must.
        std::fprintf(stderr, "concentrator-cp: cannot attach to the data plane (is concentrator-dp running with "
                             "this config?): %s%s\n", rte_strerror(rte_errno),
                     rte_errno == ENOMEM ? "; if EAL could not reserve memory at an address, start the data plane "
                                           "with \"--base-virtaddr\", \"0x200000000000\" in dataplane.eal_args"
                                         : "");
        return 1;
    }
    cp::DataplaneLink dp;
    std::string error = dp.attach(shm::names_for(""));
    for (int waited = 0; error.empty() && !dp.alive() && waited < 100; ++waited)
        std::this_thread::sleep_for(std::chrono::milliseconds(50));  // a data plane still starting
    if (error.empty() && !dp.alive()) error = "the data plane is not ready";
    int32_t holder = 0;
    if (error.empty() && !dp.claim(holder))
        error = holder < 0 ? "the punt ring is still being emptied of a previous control plane's frames (by pid " +
                                 std::to_string(-holder) + "): start again"
                           : "another concentrator-cp (pid " + std::to_string(holder) + ") is attached";
    if (!error.empty()) {
        std::fprintf(stderr, "concentrator-cp: %s\n", error.c_str());
        rte_eal_cleanup();
        return 1;
    }
    struct sigaction sa {};
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    for (int sig : {SIGINT, SIGTERM}) sigaction(sig, &sa, nullptr);
    signal(SIGPIPE, SIG_IGN);

    ControlPlane control(cfg, dp);
    int exit_code = 0;
    cp::mgmt::CtlServer server;
    if (!control.install_static()) {
        exit_code = 1;
    } else if (std::string why = server.open(socket_path, cfg.mgmt.socket_mode); !why.empty()) {
        std::fprintf(stderr, "concentrator-cp: management socket %s\n", why.c_str());
        exit_code = 1;
    } else {
        std::printf("concentrator-cp: attached to concentrator-dp pid %d; management socket %s\n",
                    dp.state().dataplane_pid, socket_path.c_str());
        std::fflush(stdout);
        while (!g_stop) {
            control.handle_punts();
            control.handle_late_acks();
            server.poll(1, [&](std::string_view line) { return control.handle_request(line); });
            if (!dp.alive()) {
                std::fprintf(stderr, "concentrator-cp: the data plane went away, exiting\n");
                exit_code = 1;
                break;
            }
        }
        if (g_stop) std::printf("concentrator-cp: %s, stopping\n", strsignal(g_stop));
    }
    server.close();
    if (dp.alive()) dp.release();
    rte_eal_cleanup();
    return exit_code;
}
