#include "common/server/server_main_util.h"

#include <pthread.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <memory>
#include <string>
#include <vector>

#include <google/protobuf/descriptor.h>
#include <google/protobuf/message.h>
#include <grpcpp/create_channel.h>
#include <grpcpp/impl/client_unary_call.h>
#include <grpcpp/impl/rpc_method.h>
#include <grpcpp/security/credentials.h>
#include <grpcpp/support/byte_buffer.h>
#include <grpcpp/support/sync_stream.h>
#include <gtest/gtest.h>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "common/log.h"
#include "recsys/v1/retrieval.grpc.pb.h"

namespace recsys {
namespace {

// Debian ships no generated grpc.health.v1 client, so the two tiny messages are
// encoded by hand: HealthCheckRequest{string service = 1}, HealthCheckResponse{enum status = 1}.
enum class Health { kUnknown = 0, kServing = 1, kNotServing = 2, kRpcError = -1 };

struct HealthReply {
  grpc::StatusCode code;
  Health status;
};

grpc::ByteBuffer ToByteBuffer(const std::string& bytes) {
  grpc::Slice slice(bytes);
  return grpc::ByteBuffer(&slice, 1);
}

std::string FromByteBuffer(const grpc::ByteBuffer& buffer) {
  std::vector<grpc::Slice> slices;
  (void)buffer.Dump(&slices);
  std::string out;
  for (const grpc::Slice& s : slices) out.append(reinterpret_cast<const char*>(s.begin()), s.size());
  return out;
}

std::shared_ptr<grpc::Channel> Connect(int port) {
  return grpc::CreateChannel(absl::StrCat("127.0.0.1:", port), grpc::InsecureChannelCredentials());
}

HealthReply CheckHealth(grpc::Channel* channel, const std::string& service) {
  std::string request;
  if (!service.empty()) {  // service names here are < 128 bytes: one-byte length
    request = absl::StrCat("\x0a", std::string(1, static_cast<char>(service.size())), service);
  }
  grpc::ClientContext ctx;
  ctx.set_deadline(absl::ToChronoTime(absl::Now() + absl::Seconds(10)));
  grpc::ByteBuffer response;
  static const grpc::internal::RpcMethod kCheck("/grpc.health.v1.Health/Check",
                                                grpc::internal::RpcMethod::NORMAL_RPC);
  grpc::Status status = grpc::internal::BlockingUnaryCall<grpc::ByteBuffer, grpc::ByteBuffer>(
      channel, kCheck, &ctx, ToByteBuffer(request), &response);
  if (!status.ok()) return {status.error_code(), Health::kRpcError};
  std::string bytes = FromByteBuffer(response);
  if (bytes.empty()) return {grpc::StatusCode::OK, Health::kUnknown};
  EXPECT_EQ(bytes.size(), 2u);
  EXPECT_EQ(bytes[0], '\x08');  // field 1, varint
  return {grpc::StatusCode::OK, static_cast<Health>(bytes[1])};
}

// Lists services through grpc.reflection.v1alpha. The message classes are not installed as
// headers but their descriptors are in libgrpc++_reflection (the generated pool).
std::vector<std::string> ListServicesByReflection(grpc::Channel* channel) {
  namespace pb = google::protobuf;
  const pb::DescriptorPool* pool = pb::DescriptorPool::generated_pool();
  const pb::Descriptor* req_type =
      pool->FindMessageTypeByName("grpc.reflection.v1alpha.ServerReflectionRequest");
  const pb::Descriptor* resp_type =
      pool->FindMessageTypeByName("grpc.reflection.v1alpha.ServerReflectionResponse");
  if (req_type == nullptr || resp_type == nullptr) {
    ADD_FAILURE() << "reflection descriptors not linked";
    return {};
  }
  std::unique_ptr<pb::Message> request(
      pb::MessageFactory::generated_factory()->GetPrototype(req_type)->New());
  request->GetReflection()->SetString(request.get(), req_type->FindFieldByName("list_services"),
                                      "*");
  grpc::ClientContext ctx;
  ctx.set_deadline(absl::ToChronoTime(absl::Now() + absl::Seconds(10)));
  static const grpc::internal::RpcMethod kInfo(
      "/grpc.reflection.v1alpha.ServerReflection/ServerReflectionInfo",
      grpc::internal::RpcMethod::BIDI_STREAMING);
  std::unique_ptr<grpc::ClientReaderWriter<grpc::ByteBuffer, grpc::ByteBuffer>> stream(
      grpc::internal::ClientReaderWriterFactory<grpc::ByteBuffer, grpc::ByteBuffer>::Create(
          channel, kInfo, &ctx));
  EXPECT_TRUE(stream->Write(ToByteBuffer(request->SerializeAsString())));
  stream->WritesDone();
  grpc::ByteBuffer reply;
  std::vector<std::string> names;
  if (stream->Read(&reply)) {
    std::unique_ptr<pb::Message> response(
        pb::MessageFactory::generated_factory()->GetPrototype(resp_type)->New());
    EXPECT_TRUE(response->ParseFromString(FromByteBuffer(reply)));
    const pb::Message& list = response->GetReflection()->GetMessage(
        *response, resp_type->FindFieldByName("list_services_response"));
    const pb::FieldDescriptor* service_field = list.GetDescriptor()->FindFieldByName("service");
    for (int i = 0; i < list.GetReflection()->FieldSize(list, service_field); ++i) {
      const pb::Message& service =
          list.GetReflection()->GetRepeatedMessage(list, service_field, i);
      names.push_back(service.GetReflection()->GetString(
          service, service.GetDescriptor()->FindFieldByName("name")));
    }
  }
  grpc::Status status = stream->Finish();
  EXPECT_TRUE(status.ok()) << status.error_message();
  std::sort(names.begin(), names.end());
  return names;
}

constexpr char kService[] = "recsys.v1.Retrieval";

// A service with no handlers: every method answers UNIMPLEMENTED, enough to be listed.
class EmptyRetrieval : public v1::Retrieval::CallbackService {};

ServerOptions TestOptions() {
  ServerOptions o;
  o.address = "127.0.0.1:0";
  o.health_service = kService;
  return o;
}

// A port-0 server starts NOT_SERVING for "" and the named service, then SERVING once flipped.
TEST(ServerMainUtilTest, HealthStartsNotServingThenFlipsToServing) {
  EmptyRetrieval service;
  absl::StatusOr<StartedServer> started = BuildAndStartServer(TestOptions(), {&service});
  ASSERT_TRUE(started.ok()) << started.status();
  ASSERT_GT(started->port, 0);
  std::shared_ptr<grpc::Channel> channel = Connect(started->port);

  EXPECT_EQ(CheckHealth(channel.get(), "").status, Health::kNotServing);
  EXPECT_EQ(CheckHealth(channel.get(), kService).status, Health::kNotServing);
  EXPECT_EQ(CheckHealth(channel.get(), "recsys.v1.Nope").code, grpc::StatusCode::NOT_FOUND);

  SetServing(started->server.get(), kService, true);
  EXPECT_EQ(CheckHealth(channel.get(), "").status, Health::kServing);
  EXPECT_EQ(CheckHealth(channel.get(), kService).status, Health::kServing);

  ShutdownGracefully(started->server.get(), absl::Seconds(5));
}

// Reflection lists our service, health and reflection itself (what grpcurl and ghz need).
TEST(ServerMainUtilTest, ReflectionListsServices) {
  EmptyRetrieval service;
  absl::StatusOr<StartedServer> started = BuildAndStartServer(TestOptions(), {&service});
  ASSERT_TRUE(started.ok()) << started.status();
  std::shared_ptr<grpc::Channel> channel = Connect(started->port);
  std::vector<std::string> names = ListServicesByReflection(channel.get());
  EXPECT_NE(std::find(names.begin(), names.end(), kService), names.end());
  EXPECT_NE(std::find(names.begin(), names.end(), "grpc.health.v1.Health"), names.end());
  EXPECT_NE(std::find(names.begin(), names.end(), "grpc.reflection.v1alpha.ServerReflection"),
            names.end());
  ShutdownGracefully(started->server.get(), absl::Seconds(5));
}

// Binding a port another server holds fails start-up (no silent SO_REUSEPORT sharing).
TEST(ServerMainUtilTest, BusyPortFailsToStart) {
  absl::StatusOr<StartedServer> first = BuildAndStartServer(TestOptions(), {});
  ASSERT_TRUE(first.ok()) << first.status();
  ServerOptions o = TestOptions();
  o.address = absl::StrCat("127.0.0.1:", first->port);
  absl::StatusOr<StartedServer> second = BuildAndStartServer(o, {});
  EXPECT_EQ(second.status().code(), absl::StatusCode::kUnavailable);
  ShutdownGracefully(first->server.get(), absl::Seconds(5));
}

// SIGTERM is taken by sigwait (no handler), health goes NOT_SERVING and the server drains.
TEST(ServerMainUtilTest, SigtermShutsDownGracefully) {
  sigset_t old_mask;
  ASSERT_EQ(pthread_sigmask(SIG_SETMASK, nullptr, &old_mask), 0);
  BlockTerminationSignals();

  EmptyRetrieval service;
  absl::StatusOr<StartedServer> started = BuildAndStartServer(TestOptions(), {&service});
  ASSERT_TRUE(started.ok()) << started.status();
  SetServing(started->server.get(), kService, true);
  std::shared_ptr<grpc::Channel> channel = Connect(started->port);
  ASSERT_EQ(CheckHealth(channel.get(), kService).status, Health::kServing);

  // Directed at this thread, where it is blocked: it stays pending until sigwait takes it.
  ASSERT_EQ(pthread_kill(pthread_self(), SIGTERM), 0);
  EXPECT_EQ(WaitForTerminationAndShutdown(started->server.get(), absl::Seconds(5)), SIGTERM);
  pthread_sigmask(SIG_SETMASK, &old_mask, nullptr);

  // Health is frozen NOT_SERVING and the server no longer answers.
  SetServing(started->server.get(), kService, true);  // ignored after shutdown
  EXPECT_NE(CheckHealth(channel.get(), kService).status, Health::kServing);
}

// The timed wait returns 0 when no signal came within the timeout, else the signal.
TEST(ServerMainUtilTest, TimedTerminationSignalWait) {
  sigset_t old_mask;
  ASSERT_EQ(pthread_sigmask(SIG_SETMASK, nullptr, &old_mask), 0);
  BlockTerminationSignals();
  EXPECT_EQ(WaitForTerminationSignalFor(absl::Milliseconds(10)), 0);
  EXPECT_EQ(WaitForTerminationSignalFor(absl::ZeroDuration()), 0);
  ASSERT_EQ(pthread_kill(pthread_self(), SIGINT), 0);
  EXPECT_EQ(WaitForTerminationSignalFor(absl::Seconds(30)), SIGINT);
  pthread_sigmask(SIG_SETMASK, &old_mask, nullptr);
}

// What ServeUntilTerminated needs of a bundle holder: the SIGHUP reload.
struct FakeHolder {
  int polls = 0;
  std::string serving;
  std::string version() const { return serving; }
  absl::Status PollOnce() {
    ++polls;
    serving = "v2";
    return absl::OkStatus();
  }
};

// What ServeUntilTerminated needs of a server, recorded.
struct FakeServer {
  bool ready = false;
  std::vector<absl::Duration>* shutdowns = nullptr;
  FakeHolder* fake_holder = nullptr;
  bool has_bundle() const { return ready; }
  void Shutdown(absl::Duration drain) { shutdowns->push_back(drain); }
  FakeHolder& holder() { return *fake_holder; }
};

// No bundle by the start-up timeout: shut down without a drain, exit code 1.
// A bundle: the signal drains for --drain, exit code 0.
TEST(ServerMainUtilTest, ServeUntilTerminatedGivesUpWithoutABundle) {
  sigset_t old_mask;
  ASSERT_EQ(pthread_sigmask(SIG_SETMASK, nullptr, &old_mask), 0);
  BlockTerminationSignals();
  std::vector<absl::Duration> shutdowns;
  auto waiting = std::make_unique<FakeServer>(FakeServer{false, &shutdowns, nullptr});
  EXPECT_EQ(ServeUntilTerminated(std::move(waiting), std::make_unique<int>(0), absl::Seconds(5),
                                 "test-server", absl::Milliseconds(10)),
            1);
  EXPECT_EQ(shutdowns, std::vector<absl::Duration>{absl::ZeroDuration()});

  shutdowns.clear();
  auto ready = std::make_unique<FakeServer>(FakeServer{true, &shutdowns, nullptr});
  ASSERT_EQ(pthread_kill(pthread_self(), SIGTERM), 0);
  EXPECT_EQ(ServeUntilTerminated(std::move(ready), std::make_unique<int>(0), absl::Seconds(5),
                                 "test-server", absl::Seconds(30)),
            0);
  EXPECT_EQ(shutdowns, std::vector<absl::Duration>{absl::Seconds(5)});
  pthread_sigmask(SIG_SETMASK, &old_mask, nullptr);
}

// SIGHUP does not end the wait: it polls the holder once (reload) per signal;
// the following SIGTERM drains and exits 0.
TEST(ServerMainUtilTest, ServeUntilTerminatedReloadsOnSighup) {
  sigset_t old_mask;
  ASSERT_EQ(pthread_sigmask(SIG_SETMASK, nullptr, &old_mask), 0);
  BlockTerminationSignals();
  std::vector<absl::Duration> shutdowns;
  FakeHolder holder{0, "v1"};
  auto ready = std::make_unique<FakeServer>(FakeServer{true, &shutdowns, &holder});
  // Both pending: sigwait takes the lower-numbered SIGHUP first.
  ASSERT_EQ(pthread_kill(pthread_self(), SIGHUP), 0);
  ASSERT_EQ(pthread_kill(pthread_self(), SIGTERM), 0);
  EXPECT_EQ(ServeUntilTerminated(std::move(ready), std::make_unique<int>(0), absl::Seconds(5),
                                 "test-server"),
            0);
  EXPECT_EQ(holder.polls, 1);
  EXPECT_EQ(holder.serving, "v2");
  EXPECT_EQ(shutdowns, std::vector<absl::Duration>{absl::Seconds(5)});
  pthread_sigmask(SIG_SETMASK, &old_mask, nullptr);
}

// The SIGHUP log line names the result: reloaded, unchanged or refused.
TEST(ServerMainUtilTest, ReloadOnHangupReportsTheResult) {
  std::string serving = "v1";
  const auto version = [&serving] { return serving; };
  ::testing::internal::CaptureStderr();
  ReloadOnHangup("test-server", version, [] { return absl::OkStatus(); });
  ReloadOnHangup("test-server", version, [&serving] {
    serving = "v2";
    return absl::OkStatus();
  });
  ReloadOnHangup("test-server", version, [] { return absl::DataLossError("bad checksum"); });
  const std::string log = ::testing::internal::GetCapturedStderr();
  const std::string prefix = "test-server: SIGHUP: re-read the registry's production alias: ";
  EXPECT_NE(log.find(prefix + "unchanged, serving v1"), std::string::npos) << log;
  EXPECT_NE(log.find(prefix + "reloaded v2 (was v1)"), std::string::npos) << log;
  EXPECT_NE(log.find(prefix + "refused: DATA_LOSS: bad checksum; still serving v2"),
            std::string::npos)
      << log;
  EXPECT_NE(log.find("no log files to reopen"), std::string::npos) << log;
}

// A thread started before the signals were blocked (as OpenBLAS starts its
// workers before main) must not let a SIGHUP or SIGTERM end the process: the
// signal reaches the main thread's wait, even when sent while main is busy.
TEST(ServerMainUtilTest, SignalsReachMainEvenWithAnEarlierUnblockedThread) {
  const pid_t pid = fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    pthread_t early;
    pthread_create(
        &early, nullptr, [](void*) -> void* { pause(); return nullptr; }, nullptr);
    BlockTerminationSignals();
    for (int i = 0; i < 3; ++i) kill(getpid(), SIGHUP);  // main is not waiting yet
    usleep(100 * 1000);
    // The early thread may forward the SIGHUPs late on a loaded machine, so
    // a second SIGHUP may arrive after the first wait; what must hold is that
    // each signal reaches the wait and none ends the process.
    const int first = WaitForServiceSignalFor(absl::Seconds(30));
    kill(getpid(), SIGTERM);
    int second = WaitForServiceSignalFor(absl::Seconds(30));
    for (int extra = 0; second == SIGHUP && extra < 3; ++extra) {
      second = WaitForServiceSignalFor(absl::Seconds(30));
    }
    _exit(first == SIGHUP && second == SIGTERM ? 0 : 3);
  }
  int status = 0;
  ASSERT_EQ(waitpid(pid, &status, 0), pid);
  ASSERT_TRUE(WIFEXITED(status)) << "killed by signal " << WTERMSIG(status);
  EXPECT_EQ(WEXITSTATUS(status), 0);
}

}  // namespace
}  // namespace recsys
