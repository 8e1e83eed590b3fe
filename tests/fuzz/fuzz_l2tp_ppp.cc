// libFuzzer target: any bytes as an L2TP message and as a PPP frame; the
// parsers either refuse or describe a payload that lies inside the input.
#include <cstdint>
#include <vector>

#include "common/proto/l2tp.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    const std::vector<uint8_t> exact(data, data + size);  // heap, exactly size bytes: ASan sees over-reads
    conc::proto::L2tpHeader l2tp;
    if (conc::proto::parse_l2tp(exact.data(), exact.size(), l2tp) == conc::proto::L2tpError::Ok) {
        if (size_t{l2tp.payload_offset} + l2tp.payload_len > size) __builtin_trap();
        conc::proto::PppFrame ppp;
        if (conc::proto::parse_ppp(exact.data() + l2tp.payload_offset, l2tp.payload_len, ppp) ==
                conc::proto::PppError::Ok &&
            ppp.payload_offset > l2tp.payload_len)
            __builtin_trap();
    }
    conc::proto::PppFrame ppp;
    if (conc::proto::parse_ppp(exact.data(), exact.size(), ppp) == conc::proto::PppError::Ok &&
        ppp.payload_offset > size)
        __builtin_trap();
    return 0;
}
