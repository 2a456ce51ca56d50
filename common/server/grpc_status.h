// Conversion between absl::Status (used everywhere inside recsys) and
// grpc::Status (used only at the RPC edge).
//
//   reactor->Finish(ToGrpcStatus(status));             // server handler
//   absl::Status s = FromGrpcStatus(stub_call_status);  // client of a downstream
//
// The two code spaces are the canonical gRPC codes in both libraries; every code
// maps to the code of the same name and the message is preserved. absl payloads
// are dropped (gRPC error details are not used in recsys).
#pragma once

#include <grpcpp/support/status.h>

#include "absl/status/status.h"

namespace recsys {

grpc::Status ToGrpcStatus(const absl::Status& status);
absl::Status FromGrpcStatus(const grpc::Status& status);

// The canonical upper-case name of a gRPC code ("OK", "INVALID_ARGUMENT", ...),
// as used in the grpc_code label of grpc_server_handled_total. "UNKNOWN" for
// values outside the canonical range.
const char* GrpcCodeName(grpc::StatusCode code);

}  // namespace recsys
