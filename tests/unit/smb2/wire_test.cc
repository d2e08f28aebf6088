// WireWriter's appends: a source inside the buffer being written survives the reallocation
// the append causes (as with vector::insert).
#include "smb2/codec/wire.h"

#include <gtest/gtest.h>

namespace smbgate::smb2 {
namespace {

TEST(WireWriter, AppendsFromItsOwnBuffer) {
  WireWriter w;
  w.U32(0x04030201);
  Bytes want{1, 2, 3, 4};
  for (int i = 0; i < 8; ++i) {  // doubles each time: several reallocations
    w.Bytes(ByteSpan(w.buf()));
    want.insert(want.end(), want.begin(), want.end());
  }
  EXPECT_EQ(w.buf(), want);
  w.Bytes(ByteSpan(w.buf()).subspan(1, 2));  // a part from the middle
  want.push_back(2);
  want.push_back(3);
  EXPECT_EQ(w.Take(), want);
}

TEST(WireWriter, StoresLittleEndianAndZeros) {
  WireWriter w;
  w.U8(0xAA);
  w.U16(0x0201);
  w.U64(0x0807060504030201ull);
  w.Zeros(2);
  w.Bytes({});
  EXPECT_EQ(w.Take(), (Bytes{0xAA, 1, 2, 1, 2, 3, 4, 5, 6, 7, 8, 0, 0}));
}

}  // namespace
}  // namespace smbgate::smb2
