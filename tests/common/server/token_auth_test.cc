#include "common/server/token_auth.h"

#include <gtest/gtest.h>

#include <map>
#include <string>

#include "absl/strings/str_cat.h"

namespace recsys {
namespace {

constexpr char kReadToken[] = "read-token-0123456789";
constexpr char kWriteToken[] = "write-token-0123456789";
constexpr char kAdminToken[] = "admin-token-0123456789";

TokenTable Tokens() {
  auto t = TokenTable::Parse(absl::StrCat("# role token\n", "read ", kReadToken, "\n\n",
                                          "write\t", kWriteToken, "   \n", "admin ", kAdminToken,
                                          "\n"));
  EXPECT_TRUE(t.ok()) << t.status();
  return *std::move(t);
}

// Each line's token finds its role; anything else finds nothing.
TEST(TokenTableTest, FindsEachRoleAndNothingElse) {
  const TokenTable t = Tokens();
  EXPECT_EQ(t.size(), 3u);
  EXPECT_EQ(t.Find(kReadToken), Role::kRead);
  EXPECT_EQ(t.Find(kWriteToken), Role::kWrite);
  EXPECT_EQ(t.Find(kAdminToken), Role::kAdmin);
  EXPECT_EQ(t.Find("read-token-012345678"), std::nullopt);
  EXPECT_EQ(t.Find(""), std::nullopt);
}

// Bad lines are refused with their number and without the token's text.
TEST(TokenTableTest, RefusesBadLinesWithoutEchoingTokens) {
  auto bad_role = TokenTable::Parse("owner secret-secret-secret\n");
  ASSERT_FALSE(bad_role.ok());
  EXPECT_NE(bad_role.status().message().find("line 1"), std::string::npos);
  EXPECT_EQ(bad_role.status().message().find("secret-secret"), std::string::npos);
  auto short_token = TokenTable::Parse("\nread short\n");
  ASSERT_FALSE(short_token.ok());
  EXPECT_NE(short_token.status().message().find("line 2"), std::string::npos);
  EXPECT_FALSE(TokenTable::Parse("read a-long-enough-token extra\n").ok());
  auto twice = TokenTable::Parse("read a-long-enough-token\nadmin a-long-enough-token\n");
  ASSERT_FALSE(twice.ok());
  EXPECT_EQ(twice.status().message().find("a-long-enough"), std::string::npos);
  EXPECT_FALSE(TokenTable::Load("/nonexistent/tokens").ok());
}

// The gateway's methods need read, write or admin; probes need nothing.
TEST(AuthPolicyTest, GatewayRolesAndOpenProbes) {
  const AuthPolicy p = AuthPolicy::Gateway();
  EXPECT_EQ(p.Required("/recsys.v1.Recommender/Recommend"), Role::kRead);
  EXPECT_EQ(p.Required("/recsys.v1.Recommender/Search"), Role::kRead);
  EXPECT_EQ(p.Required("/recsys.v1.Recommender/SimilarItems"), Role::kRead);
  EXPECT_EQ(p.Required("/recsys.v1.Recommender/GetModelInfo"), Role::kRead);
  EXPECT_EQ(p.Required("/recsys.v1.Recommender/Ask"), Role::kRead);
  EXPECT_EQ(p.Required("/recsys.v1.Recommender/Feedback"), Role::kWrite);
  EXPECT_EQ(p.Required("/recsys.v1.Recommender/GetHistory"), Role::kAdmin);
  EXPECT_EQ(p.Required("/recsys.v1.Recommender/DeleteUser"), Role::kAdmin);
  EXPECT_EQ(p.Required("/recsys.v1.Recommender/NotYetInvented"), Role::kAdmin);
  EXPECT_EQ(p.Required("/grpc.health.v1.Health/Check"), std::nullopt);
  EXPECT_EQ(p.Required("/grpc.health.v1.Health/Watch"), std::nullopt);
  EXPECT_EQ(p.Required("/grpc.reflection.v1alpha.ServerReflection/ServerReflectionInfo"),
            std::nullopt);
  EXPECT_EQ(p.Required(""), Role::kAdmin);
  const AuthPolicy stage = AuthPolicy::WholeService("recsys.v1.Ranking", Role::kRead);
  EXPECT_EQ(stage.Required("/recsys.v1.Ranking/Rank"), Role::kRead);
  EXPECT_EQ(stage.Required("/recsys.v1.Retrieval/Retrieve"), Role::kAdmin);
}

grpc::StatusCode Call(TokenAuthProcessor& p, const std::string& method,
                      const std::string& authorization,
                      std::multimap<std::string, std::string>* consumed = nullptr) {
  const std::string path_key = ":path";
  const std::string auth_key = "authorization";
  grpc::AuthMetadataProcessor::InputMetadata md;
  md.emplace(grpc::string_ref(path_key), grpc::string_ref(method));
  if (!authorization.empty()) {
    md.emplace(grpc::string_ref(auth_key), grpc::string_ref(authorization));
  }
  std::multimap<std::string, std::string> consumed_local, response;
  return p.Process(md, nullptr, consumed ? consumed : &consumed_local, &response).error_code();
}

// Missing or unknown token: UNAUTHENTICATED; a role too low: PERMISSION_DENIED;
// the header is consumed; a replaced table takes effect.
TEST(TokenAuthProcessorTest, AuthenticatesThenAuthorizes) {
  prometheus::Registry registry;
  TokenAuthProcessor p(AuthPolicy::Gateway(), Tokens(), &registry);
  const std::string feedback = "/recsys.v1.Recommender/Feedback";
  EXPECT_EQ(Call(p, feedback, ""), grpc::StatusCode::UNAUTHENTICATED);
  EXPECT_EQ(Call(p, feedback, "Bearer nobody-has-this-token"), grpc::StatusCode::UNAUTHENTICATED);
  EXPECT_EQ(Call(p, feedback, kWriteToken), grpc::StatusCode::UNAUTHENTICATED);  // no scheme
  EXPECT_EQ(Call(p, feedback, absl::StrCat("Bearer ", kReadToken)),
            grpc::StatusCode::PERMISSION_DENIED);
  std::multimap<std::string, std::string> consumed;
  EXPECT_EQ(Call(p, feedback, absl::StrCat("bearer ", kWriteToken), &consumed),
            grpc::StatusCode::OK);
  EXPECT_EQ(consumed.count("authorization"), 1u);
  EXPECT_EQ(Call(p, feedback, absl::StrCat("Bearer ", kAdminToken)), grpc::StatusCode::OK);
  EXPECT_EQ(Call(p, "/recsys.v1.Recommender/DeleteUser", absl::StrCat("Bearer ", kWriteToken)),
            grpc::StatusCode::PERMISSION_DENIED);
  EXPECT_EQ(Call(p, "/grpc.health.v1.Health/Check", ""), grpc::StatusCode::OK);

  std::map<std::string, double> rejected;
  for (const auto& family : registry.Collect()) {
    if (family.name != "recsys_auth_rejected_total") continue;
    for (const auto& m : family.metric) rejected[m.label.at(0).value] = m.counter.value;
  }
  EXPECT_EQ(rejected["missing_token"], 2);  // none, and one without "Bearer "
  EXPECT_EQ(rejected["unknown_token"], 1);
  EXPECT_EQ(rejected["role"], 2);

  auto fewer = TokenTable::Parse(absl::StrCat("read ", kWriteToken, "\n"));
  ASSERT_TRUE(fewer.ok());
  p.Replace(*std::move(fewer));
  EXPECT_EQ(Call(p, feedback, absl::StrCat("Bearer ", kWriteToken)),
            grpc::StatusCode::PERMISSION_DENIED);
  EXPECT_EQ(Call(p, feedback, absl::StrCat("Bearer ", kAdminToken)),
            grpc::StatusCode::UNAUTHENTICATED);
}

}  // namespace
}  // namespace recsys
