// Converting between the config's SA and session specs and the contract's
// fixed-size command payloads. The control plane builds commands from either
// the config (static entries) or its negotiations; the data plane turns them
// back into the same specs its static install uses, validating every field a
// buggy or mismatched peer process could get wrong.
#pragma once

#include "common/config/config.h"
#include "common/shm/contract.h"

namespace conc::shm {

SaSpec to_sa_spec(const config::StaticSa& sa);
// False (with why) if the spec names no known transform or its keys do not fit it.
bool from_sa_spec(const SaSpec& spec, config::StaticSa& out, const char** why);

// sa_in / sa_out are table indices (the spec's names are not used).
SessionSpec to_session_spec(const config::StaticSession& session, uint32_t sa_in, uint32_t sa_out);
bool from_session_spec(const SessionSpec& spec, config::StaticSession& out, const char** why);

// Copies a name into a fixed field, always terminated.
void copy_name(char (&field)[kNameSize], const std::string& name);
std::string name_of(const char (&field)[kNameSize]);

}  // namespace conc::shm
