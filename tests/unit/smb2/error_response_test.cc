#include <gtest/gtest.h>

#include "smb2/codec/error_response.h"
#include "smb2/codec/status.h"
#include "tests/unit/smb2/codec_test_util.h"

namespace smbgate::smb2 {
namespace {

using test::B;
using test::Put16;
using test::Put32;

Bytes ErrorMsg(const ErrorResponse& e, Command cmd = Command::kCreate) {
  Bytes b = test::HeaderOnly(cmd, true, status::kObjectNameNotFound);
  WireWriter w(&b);
  Encode(e, w);
  return b;
}

TEST(ErrorResponse, Empty) {
  const Bytes m = ErrorMsg({});
  // StructureSize 9 with the one ErrorData byte.
  EXPECT_EQ(m.size(), 64u + 9u);
  auto d = DecodeErrorResponse(m);
  ASSERT_TRUE(d);
  EXPECT_EQ(d->error_context_count, 0);
  EXPECT_TRUE(d->error_data.empty());
  // Without the byte too.
  EXPECT_TRUE(DecodeErrorResponse(ByteSpan(m).first(72)));
  EXPECT_ERRC(DecodeErrorResponse(ByteSpan(m).first(70)), malformed_response);
}

TEST(ErrorResponse, ByteCountChecked) {
  const Bytes data = {4, 0, 0, 0};  // STATUS_BUFFER_TOO_SMALL: needed size
  ErrorResponse e;
  e.error_data = data;
  Bytes m = ErrorMsg(e);
  auto d = DecodeErrorResponse(m);
  ASSERT_TRUE(d);
  EXPECT_EQ(test::ToBytes(d->error_data), data);
  Put32(m, B(4), 5);
  EXPECT_ERRC(DecodeErrorResponse(m), malformed_response);
  Put32(m, B(4), 0xFFFFFFFF);
  EXPECT_ERRC(DecodeErrorResponse(m), malformed_response);
  Put16(m, B(0), 8);
  EXPECT_ERRC(DecodeErrorResponse(m), bad_structure_size);
}

TEST(ErrorResponse, Contexts) {
  // Two contexts: 4 bytes of data (padded to 8), then 2 bytes.
  WireWriter w;
  w.U32(4);
  w.U32(kErrorIdDefault);
  w.Bytes(Bytes{1, 2, 3, 4});
  w.Zeros(4);
  w.U32(2);
  w.U32(kErrorIdShareRedirect);
  w.Bytes(Bytes{9, 9});
  const Bytes data = w.Take();
  ErrorResponse e;
  e.error_context_count = 2;
  e.error_data = data;
  const Bytes msg = ErrorMsg(e);  // the decoded view points into it
  auto d = DecodeErrorResponse(msg);
  ASSERT_TRUE(d);
  auto ctx = ParseErrorContexts(*d);
  ASSERT_TRUE(ctx);
  ASSERT_EQ(ctx->size(), 2u);
  EXPECT_EQ((*ctx)[0].error_id, kErrorIdDefault);
  EXPECT_EQ(test::ToBytes((*ctx)[0].error_context_data), (Bytes{1, 2, 3, 4}));
  EXPECT_EQ((*ctx)[1].error_id, kErrorIdShareRedirect);
  e.error_context_count = 3;  // more contexts than present
  EXPECT_ERRC(ParseErrorContexts(e), malformed_response);
}

TEST(ErrorResponse, SymbolicLink) {
  SymbolicLinkErrorResponse s;
  s.unparsed_path_length = 8;
  s.substitute_name = "\\??\\C:\\target";
  s.print_name = "C:\\target";
  s.flags = 0;
  WireWriter w;
  Encode(s, w);
  const Bytes data = w.Take();
  auto d = ParseSymbolicLinkError(data);
  ASSERT_TRUE(d);
  EXPECT_EQ(d->unparsed_path_length, 8);
  EXPECT_EQ(d->substitute_name, s.substitute_name);
  EXPECT_EQ(d->print_name, s.print_name);
  Bytes bad = data;
  Put32(bad, 0, 0xFFFFFFF0);  // SymLinkLength past the data
  EXPECT_ERRC(ParseSymbolicLinkError(bad), malformed_response);
  bad = data;
  Put16(bad, 18, 0xFFFE);  // SubstituteNameLength past PathBuffer
  EXPECT_ERRC(ParseSymbolicLinkError(bad), malformed_response);
  bad = data;
  Put32(bad, 4, 0);  // not "SYML"
  EXPECT_ERRC(ParseSymbolicLinkError(bad), malformed_response);
  EXPECT_ERRC(ParseSymbolicLinkError(ByteSpan(data).first(27)),
              malformed_response);
}

TEST(ErrorResponse, HasNormalBody) {
  EXPECT_TRUE(HasNormalBody(Command::kRead, status::kSuccess));
  EXPECT_TRUE(HasNormalBody(Command::kRead, status::kBufferOverflow));
  EXPECT_TRUE(HasNormalBody(Command::kQueryInfo, status::kBufferOverflow));
  EXPECT_TRUE(HasNormalBody(Command::kIoctl, status::kBufferOverflow));
  EXPECT_FALSE(HasNormalBody(Command::kCreate, status::kBufferOverflow));
  EXPECT_TRUE(HasNormalBody(Command::kSessionSetup,
                            status::kMoreProcessingRequired));
  EXPECT_FALSE(HasNormalBody(Command::kCreate, status::kMoreProcessingRequired));
  EXPECT_FALSE(HasNormalBody(Command::kRead, status::kPending));
  EXPECT_FALSE(HasNormalBody(Command::kCreate, status::kAccessDenied));
  EXPECT_FALSE(HasNormalBody(Command::kCreate, status::kStoppedOnSymlink));
}

}  // namespace
}  // namespace smbgate::smb2
