-- concentrator.lua: pktgen-dpdk traffic for concentrator-dp (see README.md in this directory).
--
-- pktgen port ACCESS is cabled to the concentrator's access port, CORE to its core port.
--   pcap mode (default): ACCESS sends upstream.pcap (ESP from every session's client), CORE sends
--     downstream.pcap (plain IP to every client), each PASSES times (0: until stopped).
--   range mode: CORE alone sends plain UDP from the core host to every client address in turn
--     (pktgen's range mode, nothing to load); upstream needs real ESP, so only the pcap can do it.
-- Both read the pktgen-params.lua that make_pcaps.py wrote next to the pcaps:
--   pktgen -l 0-4 -n 4 -a ACCESS_PCI -a CORE_PCI -- -P -m "[1:2].0,[3:4].1" \
--     -s 0:out/upstream.pcap -s 1:out/downstream.pcap -f scripts/pktgen/concentrator.lua
-- Settings come from the environment: CONC_PKTGEN_PARAMS (default out/pktgen-params.lua),
-- CONC_PKTGEN_MODE (pcap|range), CONC_PKTGEN_ACCESS (0), CONC_PKTGEN_CORE (1),
-- CONC_PKTGEN_RATE (percent of line rate, 100), CONC_PKTGEN_PASSES (1), CONC_PKTGEN_SECONDS
-- (10; 0 leaves the ports sending and the pktgen prompt to you).

package.path = package.path .. ";?.lua;test/?.lua;app/?.lua;"
require "Pktgen"

local function setting(name, default)
    local value = os.getenv(name)
    if value == nil or value == "" then return default end
    return value
end

local P = dofile(setting("CONC_PKTGEN_PARAMS", "out/pktgen-params.lua"))
local mode = setting("CONC_PKTGEN_MODE", "pcap")
local access = setting("CONC_PKTGEN_ACCESS", "0")
local core = setting("CONC_PKTGEN_CORE", "1")
local rate = tonumber(setting("CONC_PKTGEN_RATE", "100"))
local passes = tonumber(setting("CONC_PKTGEN_PASSES", "1"))
local seconds = tonumber(setting("CONC_PKTGEN_SECONDS", "10"))
local both = access .. "," .. core

pktgen.stop(both)
pktgen.set(both, "rate", rate)

local sending
if mode == "pcap" then
    -- Every pass reuses each SA's sequence numbers: with anti-replay on, only the first gets
    -- through and the rest are rx_esp_replay_drops. Count 0 sends until stopped.
    pktgen.pcap(access, "on")
    pktgen.pcap(core, "on")
    pktgen.set(access, "count", P.upstream_frames * passes)
    pktgen.set(core, "count", P.downstream_frames * passes)
    sending = both
elseif mode == "range" then
    if P.client_first == "" then error("no session has an IPv4 address: range mode has nothing to send to") end
    local size = P.inner_size == "imix" and 64 or tonumber(P.inner_size)
    local frame = math.max(64, size + 18)  -- pktgen sizes count the Ethernet header and FCS
    pktgen.pcap(core, "off")
    pktgen.set_proto(core, "udp")
    pktgen.range.dst_mac(core, "start", P.core_mac)
    pktgen.range.src_mac(core, "start", P.core_tester_mac)
    for _, what in ipairs({"start", "min", "max"}) do
        pktgen.range.src_ip(core, what, P.core_host)
        pktgen.range.src_port(core, what, 9)
        pktgen.range.pkt_size(core, what, frame)
    end
    pktgen.range.src_ip(core, "inc", "0.0.0.0")
    pktgen.range.src_port(core, "inc", 0)
    pktgen.range.pkt_size(core, "inc", 0)
    -- Every client address once per round; addresses between them without a session end in
    -- tx_no_session_drops (make_pcaps.py --write-config numbers clients consecutively).
    pktgen.range.dst_ip(core, "start", P.client_first)
    pktgen.range.dst_ip(core, "min", P.client_first)
    pktgen.range.dst_ip(core, "max", P.client_last)
    pktgen.range.dst_ip(core, "inc", "0.0.0.1")
    pktgen.range.dst_port(core, "start", 20000)
    pktgen.range.dst_port(core, "min", 20000)
    pktgen.range.dst_port(core, "max", 29999)
    pktgen.range.dst_port(core, "inc", 1)
    pktgen.set_range(core, "on")
    pktgen.set(core, "count", 0)
    sending = core
else
    error("CONC_PKTGEN_MODE: pcap or range, not " .. mode)
end

pktgen.clr()
pktgen.start(sending)
if seconds > 0 then
    pktgen.delay(seconds * 1000)
    pktgen.stop(sending)
    pktgen.delay(500)  -- what is still in flight comes back
    local stats = pktgen.portStats(both, "port")
    for _, port in ipairs({access, core}) do
        local s = stats[tonumber(port)]
        print(string.format("port %s (%s): sent %d, received %d packets", port,
                            port == access and "access side" or "core side", s.opackets, s.ipackets))
    end
    print("concentrator-dp's counters: kill -USR1 <its pid> with --stats-json, or its stats_interval prints")
end
