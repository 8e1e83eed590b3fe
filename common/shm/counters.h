// Per-worker counters, one cache-line-aligned block per lcore, summed when
// read. Part of the shared-memory contract: the data plane publishes each
// worker's block for the control plane. Named after what they count, so
// `show stats` and the JSON need no translation table: the list below is the
// only place a counter is named.
#pragma once

#include <cstdint>

namespace conc::shm {

#define CONC_WORKER_COUNTERS(X)                                                      \
    X(rx_access_packets)          /* frames received on the access port */          \
    X(rx_core_packets)            /* frames received on the core port */            \
    X(rx_esp_packets)             /* ESP (proto 50 or UDP 4500) handed to decap */  \
    X(rx_esp_udp_packets)         /* of which ESP-in-UDP, RFC 3948 */               \
    X(rx_esp_decrypted)           /* authenticated, decrypted, forwarded */         \
    X(rx_esp_peer_moves)          /* NAT-T peer seen at a new address:port, told */ \
    X(rx_esp_handoffs)            /* arrived on another worker than the SA's owner */ \
    X(rx_esp_handoff_drops)       /* the owner's hand-off ring was full */          \
    X(rx_esp_owner_moves)         /* SAs given to the worker their packets reach */ \
    X(rx_esp_unknown_spi_drops)                                                     \
    X(rx_esp_encap_mismatch_drops) /* plain ESP on a NAT-T SA or the reverse */     \
    X(rx_esp_truncated_drops)     /* shorter than header + IV + block + ICV */      \
    X(rx_esp_length_drops)        /* ciphertext not a whole number of blocks */     \
    X(rx_esp_zero_seq_drops)      /* sequence number 0 is never sent */             \
    X(rx_esp_replay_drops)        /* already received */                            \
    X(rx_esp_window_drops)        /* left of the anti-replay window */              \
    X(rx_esp_auth_drops)          /* ICV did not verify */                          \
    X(rx_esp_crypto_error_drops)  /* IPsec-MB refused the job */                    \
    X(rx_esp_padding_drops)       /* pad length too long or pad bytes not 1,2,3.. */ \
    X(rx_esp_next_header_drops)   /* inner protocol not allowed on this SA */       \
    X(rx_l2tp_port_drops)         /* decrypted UDP not to port 1701 */              \
    X(rx_l2tp_header_drops)       /* bad L2TP version, length or offset */          \
    X(rx_l2tp_control_punts)      /* L2TP control messages (T bit) */               \
    X(rx_l2tp_unknown_session_drops) /* no session with these ids on this SA */     \
    X(rx_ppp_header_drops)                                                          \
    X(rx_ppp_control_punts)       /* LCP, auth, NCPs, CCP: not IP */                \
    X(rx_inner_ip_header_drops)   /* PPP said IP, the header disagreed */           \
    X(rx_spoof_drops)             /* source not the session's address or prefix */  \
    X(rx_ttl_exceeded_drops)                                                        \
    X(rx_mss_clamped)             /* client SYNs whose MSS was lowered */           \
    X(rx_ike_punts)               /* UDP 500, or UDP 4500 with non-ESP marker */    \
    X(punt_no_listener_drops)     /* punted while no control plane is attached */   \
    X(punt_ring_full_drops)       /* punted, but the control plane is behind */     \
    X(punt_no_room_drops)         /* no headroom for the punt metadata */           \
    X(punt_no_mbuf_drops)         /* no mbuf for an event (PeerMoved) */            \
    X(inject_packets)             /* intents from the control plane, accepted */    \
    X(inject_bad_intent_drops)    /* unknown kind, session or SA; bad length */     \
    X(rx_natt_keepalive_drops)    /* RFC 3948 2.3 one-byte 0xFF */                  \
    X(arp_replies)                /* ARP requests for our addresses answered */     \
    X(rx_arp_ignored)             /* ARP neither for our address nor from a gateway */ \
    X(nd_advertisements)          /* Neighbor Solicitations for our address answered */ \
    X(rx_nd_ignored)              /* ND, RAs, multicast: nothing for us to do */    \
    X(arp_requests_sent)          /* asking for the IPv4 gateway's MAC */           \
    X(nd_solicitations_sent)      /* asking for the IPv6 gateway's MAC */           \
    X(neighbor_updates)           /* a gateway's MAC learned or changed */          \
    X(icmp_echo_replies)          /* pings to our addresses answered */             \
    X(rx_local_other_drops)       /* to our address, neither IKE, ESP nor ping */   \
    X(rx_non_ip_drops)                                                              \
    X(rx_ip_header_drops)         /* bad version, length or checksum */             \
    X(rx_ip_options_drops)                                                          \
    X(rx_ip_fragment_drops)                                                         \
    X(rx_not_local_drops)         /* access frame not addressed to us */            \
    X(rx_udp_header_drops)                                                          \
    X(rx_other_drops)             /* no rule for this protocol / port */            \
    X(tx_esp_packets)             /* encrypted and queued on the access port */     \
    X(tx_no_neighbor_drops)       /* the gateway's MAC is not known yet */          \
    X(tx_no_session_drops)        /* core packet for no client's address */         \
    X(tx_ttl_exceeded_drops)                                                        \
    X(tx_mss_clamped)             /* server SYN-ACKs whose MSS was lowered */       \
    X(tx_too_big_icmp_sent)       /* over the session MTU with DF / IPv6: ICMP */   \
    X(tx_too_big_drops)           /* over the MTU, and no ICMP could be sent */     \
    X(tx_fragments)               /* fragments made of packets over the MTU */      \
    X(tx_fragment_drops)          /* a packet that could not be fragmented */       \
    X(tx_esp_seq_overflow_drops)  /* SA ran out of sequence numbers (no wrap) */    \
    X(tx_esp_too_big_drops)       /* no room left in the buffer for ESP */          \
    X(tx_esp_crypto_error_drops)                                                    \
    X(tx_access_packets)          /* frames sent on the access port */              \
    X(tx_core_packets)            /* frames sent on the core port */                \
    X(tx_full_drops)              /* TX ring full */                                \
    X(busy_cycles)                /* TSC cycles spent on polls that found work */   \
    X(busy_polls)                 /* polls that found work */

struct alignas(64) WorkerCounters {
#define CONC_DECLARE_COUNTER(name) uint64_t name = 0;
    CONC_WORKER_COUNTERS(CONC_DECLARE_COUNTER)
#undef CONC_DECLARE_COUNTER

    WorkerCounters& operator+=(const WorkerCounters& o) {
#define CONC_ADD_COUNTER(name) name += o.name;
        CONC_WORKER_COUNTERS(CONC_ADD_COUNTER)
#undef CONC_ADD_COUNTER
        return *this;
    }

    template <typename F>
    void for_each(F&& f) const {
#define CONC_VISIT_COUNTER(name) f(#name, name);
        CONC_WORKER_COUNTERS(CONC_VISIT_COUNTER)
#undef CONC_VISIT_COUNTER
    }
};

}  // namespace conc::shm
