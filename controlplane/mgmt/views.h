// What `concentratorctl show ...` prints: rendered here, in the control
// plane, from the data plane's published tables and counters, as JSON (for
// scripts) or as the human table.
#pragma once

#include <cstdint>
#include <string>

#include "controlplane/dp_link.h"

namespace conc::cp::mgmt {

#define CONC_CONTROL_COUNTERS(X)                                              \
    X(punts_ike)                 /* IKE datagrams on UDP 500 */               \
    X(punts_ike_natt)            /* IKE on UDP 4500 behind the non-ESP marker */ \
    X(punts_l2tp_control)        /* L2TP control messages */                  \
    X(punts_ppp_control)         /* LCP, authentication, NCPs */              \
    X(punts_peer_moved)          /* NAT-T clients seen at a new address:port */ \
    X(peer_moves)                /* ... whose SA pair was moved there */      \
    X(peer_move_failures)        /* ... whose SAs could not be */             \
    X(punts_bad_header)          /* a punt whose header did not parse */      \
    X(lcp_echo_replies)          /* answered LCP Echo-Requests */             \
    X(inject_failures)           /* intents that found no mbuf or no room */  \
    X(commands_sent)                                                          \
    X(commands_failed)           /* nacked, unanswered or not sent */         \
    X(commands_unanswered)       /* no ack in time: outcome unknown then */   \
    X(command_acks_late)         /* acks that came after all (logged) */      \
    X(command_acks_stale)        /* acks a previous control plane left */

struct ControlCounters {
#define CONC_DECLARE_COUNTER(name) uint64_t name = 0;
    CONC_CONTROL_COUNTERS(CONC_DECLARE_COUNTER)
#undef CONC_DECLARE_COUNTER
    template <typename F>
    void for_each(F&& f) const {
#define CONC_VISIT_COUNTER(name) f(#name, name);
        CONC_CONTROL_COUNTERS(CONC_VISIT_COUNTER)
#undef CONC_VISIT_COUNTER
    }
};

std::string show_sessions(const DataplaneLink& dp, bool json);
std::string show_sas(const DataplaneLink& dp, bool json);
std::string show_stats(const DataplaneLink& dp, const ControlCounters& control, bool json);

}  // namespace conc::cp::mgmt
