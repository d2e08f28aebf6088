// The bodies of the codec's libFuzzer targets (tests/fuzz/smb2_*_fuzz.cc),
// kept here so the unit tests run the same checks over the seed frames.
//
// Each target takes a selector byte then a message. The selector picks the
// decoder; the message's header, when present, is made to name that
// decoder's command so mutations explore the body. When a decode succeeds,
// the result is encoded, decoded again and encoded again: the two encodings
// must be identical (decode keeps everything encode writes), or the process
// aborts. Decoded spans point into a heap copy of exactly the input's size,
// so AddressSanitizer sees any read past the message.
#pragma once

#include <algorithm>
#include <cstdio>
#include <cstdlib>

#include "smb2/codec/body.h"
#include "smb2/codec/close.h"
#include "smb2/codec/compound.h"
#include "smb2/codec/create.h"
#include "smb2/codec/dfs_referral.h"
#include "smb2/codec/error_response.h"
#include "smb2/codec/fscc.h"
#include "smb2/codec/header.h"
#include "smb2/codec/ioctl.h"
#include "smb2/codec/lock.h"
#include "smb2/codec/negotiate.h"
#include "smb2/codec/notify.h"
#include "smb2/codec/query_directory.h"
#include "smb2/codec/query_info.h"
#include "smb2/codec/read.h"
#include "smb2/codec/session_setup.h"
#include "smb2/codec/set_info.h"
#include "smb2/codec/tree.h"
#include "smb2/codec/write.h"
#include "smb2/codec/cancel.h"

namespace smbgate::smb2::fuzz {

// Successful decodes so far (lets the unit test check that each seed is
// valid, i.e. reaches the round trip).
inline std::size_t decoded_count = 0;

[[noreturn]] inline void Fail(const char* what) {
  std::fprintf(stderr, "codec round trip mismatch: %s\n", what);
  std::abort();
}

// The message to decode: a copy of `data` whose ProtocolId and Command are
// set when it is long enough to hold a header.
inline Bytes AsMessage(ByteSpan data, Command cmd) {
  Bytes m(data.begin(), data.end());
  if (m.size() >= kHeaderSize) {
    WireWriter w(&m);
    w.PutU32At(0, kProtocolId);
    w.PutU16At(12, static_cast<std::uint16_t>(cmd));
  }
  return m;
}

// The header of `msg` (64 bytes) followed by the encoding of `v`.
template <class T>
Bytes Reencode(ByteSpan msg, const T& v) {
  Bytes out(msg.begin(), msg.begin() + kHeaderSize);
  WireWriter w(&out);
  Encode(v, w);
  return out;
}

// Decode, encode, decode, encode; the encodings must match.
template <class Decode>
void CheckMessage(ByteSpan msg, Decode decode, const char* what) {
  auto a = decode(msg);
  if (!a) return;
  ++decoded_count;
  const Bytes e1 = Reencode(msg, *a);
  auto b = decode(e1);
  if (!b) Fail(what);
  const Bytes e2 = Reencode(e1, *b);
  if (e1 != e2) Fail(what);
}

// The same for a payload: Parse, Encode (returns Bytes), Parse, Encode.
template <class Parse, class Enc>
void CheckPayload(ByteSpan data, Parse parse, Enc enc, const char* what) {
  auto a = parse(data);
  if (!a) return;
  ++decoded_count;
  const Bytes e1 = enc(*a);
  auto b = parse(e1);
  if (!b) Fail(what);
  if (enc(*b) != e1) Fail(what);
}

// Splits input into the selector and the rest (a heap copy of exact size).
struct Input {
  unsigned selector = 0;
  Bytes rest;
};
inline Input Take(const std::uint8_t* data, std::size_t size) {
  Input in;
  if (size == 0) return in;
  in.selector = data[0];
  in.rest.assign(data + 1, data + size);
  return in;
}

#define SMBGATE_MSG(cmd, decoder) \
  CheckMessage(AsMessage(in.rest, cmd), [](ByteSpan m) { return decoder(m); }, #decoder)
#define SMBGATE_PAYLOAD(parser, encoder)                                     \
  CheckPayload(                                                             \
      in.rest, [](ByteSpan d) { return parser(d); },                        \
      [](const auto& v) { return encoder(v); }, #parser)

// smb2_header_fuzz: the header, compounds and the transform header.
inline void FuzzHeader(const std::uint8_t* data, std::size_t size) {
  const Input in = Take(data, size);
  switch (in.selector % 3) {
    case 0: {
      auto h = DecodeHeader(in.rest);
      if (!h) return;
      ++decoded_count;
      // Every header byte is kept, so the encoding is the input's first 64.
      WireWriter w;
      Encode(*h, w);
      if (!std::equal(w.buf().begin(), w.buf().end(), in.rest.begin())) {
        Fail("DecodeHeader");
      }
      return;
    }
    case 1: {
      (void)ClassifyFrame(in.rest);
      auto parts = SplitCompound(in.rest);
      if (!parts) return;
      ++decoded_count;
      std::size_t total = 0;
      for (std::size_t i = 0; i < parts->size(); ++i) {
        const ByteSpan p = (*parts)[i];
        if (p.size() < kHeaderSize || p.data() != in.rest.data() + total ||
            (i + 1 < parts->size() && p.size() % 8 != 0)) {
          Fail("SplitCompound shape");
        }
        total += p.size();
      }
      if (total != in.rest.size()) Fail("SplitCompound total");
      std::vector<Bytes> copies;
      for (ByteSpan p : *parts) copies.emplace_back(p.begin(), p.end());
      // Rebuilding the split frame gives it back unchanged.
      if (BuildCompound(copies) != in.rest) Fail("BuildCompound");
      return;
    }
    default: {
      auto t = DecodeTransformHeader(in.rest);
      if (!t) return;
      ++decoded_count;
      WireWriter w;
      Encode(*t, w);
      // Every byte but Reserved (offset 40, 2 bytes) is kept.
      Bytes expect(in.rest.begin(), in.rest.begin() + kTransformHeaderSize);
      expect[40] = expect[41] = 0;
      if (w.buf() != expect) Fail("DecodeTransformHeader");
      return;
    }
  }
}

inline void FuzzNegotiate(const std::uint8_t* data, std::size_t size) {
  const Input in = Take(data, size);
  if (in.selector % 2) {
    SMBGATE_MSG(Command::kNegotiate, DecodeNegotiateRequest);
  } else {
    SMBGATE_MSG(Command::kNegotiate, DecodeNegotiateResponse);
  }
}

inline void FuzzSessionSetup(const std::uint8_t* data, std::size_t size) {
  const Input in = Take(data, size);
  switch (in.selector % 6) {
    case 0: SMBGATE_MSG(Command::kSessionSetup, DecodeSessionSetupRequest); break;
    case 1: SMBGATE_MSG(Command::kSessionSetup, DecodeSessionSetupResponse); break;
    case 2: SMBGATE_MSG(Command::kLogoff, DecodeLogoffRequest); break;
    case 3: SMBGATE_MSG(Command::kLogoff, DecodeLogoffResponse); break;
    case 4: SMBGATE_MSG(Command::kEcho, DecodeEchoRequest); break;
    default: SMBGATE_MSG(Command::kEcho, DecodeEchoResponse); break;
  }
}

inline void FuzzTree(const std::uint8_t* data, std::size_t size) {
  const Input in = Take(data, size);
  switch (in.selector % 4) {
    case 0: SMBGATE_MSG(Command::kTreeConnect, DecodeTreeConnectRequest); break;
    case 1: SMBGATE_MSG(Command::kTreeConnect, DecodeTreeConnectResponse); break;
    case 2: SMBGATE_MSG(Command::kTreeDisconnect, DecodeTreeDisconnectRequest); break;
    default: SMBGATE_MSG(Command::kTreeDisconnect, DecodeTreeDisconnectResponse); break;
  }
}

inline void FuzzCreate(const std::uint8_t* data, std::size_t size) {
  const Input in = Take(data, size);
  switch (in.selector % 9) {
    case 0: SMBGATE_MSG(Command::kCreate, DecodeCreateRequest); break;
    case 1: SMBGATE_MSG(Command::kCreate, DecodeCreateResponse); break;
    case 2: {
      auto c = ParseCreateContexts(in.rest);
      if (!c) return;
      ++decoded_count;
      WireWriter w1;
      EncodeCreateContexts(*c, w1);
      auto c2 = ParseCreateContexts(w1.buf());
      if (!c2) Fail("ParseCreateContexts");
      WireWriter w2;
      EncodeCreateContexts(*c2, w2);
      if (w1.buf() != w2.buf()) Fail("ParseCreateContexts");
      break;
    }
    case 3: SMBGATE_PAYLOAD(ParseMaximalAccessResponse, EncodeMaximalAccessResponse); break;
    case 4: SMBGATE_PAYLOAD(ParseQueryOnDiskIdResponse, EncodeQueryOnDiskIdResponse); break;
    case 5: SMBGATE_PAYLOAD(ParseLease, EncodeLease); break;
    case 6: SMBGATE_PAYLOAD(ParseDurableHandleRequestV2, EncodeDurableHandleRequestV2); break;
    case 7: SMBGATE_PAYLOAD(ParseDurableHandleResponseV2, EncodeDurableHandleResponseV2); break;
    default: SMBGATE_PAYLOAD(ParseDurableHandleReconnectV2, EncodeDurableHandleReconnectV2); break;
  }
}

// READ, WRITE and the other handle-level commands: CLOSE, FLUSH, LOCK,
// CANCEL.
inline void FuzzReadWrite(const std::uint8_t* data, std::size_t size) {
  const Input in = Take(data, size);
  switch (in.selector % 13) {
    case 0: SMBGATE_MSG(Command::kRead, DecodeReadRequest); break;
    case 1: SMBGATE_MSG(Command::kRead, DecodeReadResponse); break;
    case 2: SMBGATE_MSG(Command::kWrite, DecodeWriteRequest); break;
    case 3: SMBGATE_MSG(Command::kWrite, DecodeWriteResponse); break;
    case 4: SMBGATE_MSG(Command::kClose, DecodeCloseRequest); break;
    case 5: SMBGATE_MSG(Command::kClose, DecodeCloseResponse); break;
    case 6: SMBGATE_MSG(Command::kFlush, DecodeFlushRequest); break;
    case 7: SMBGATE_MSG(Command::kFlush, DecodeFlushResponse); break;
    case 8: SMBGATE_MSG(Command::kLock, DecodeLockRequest); break;
    case 9: SMBGATE_MSG(Command::kLock, DecodeLockResponse); break;
    case 10: SMBGATE_MSG(Command::kCancel, DecodeCancelRequest); break;
    default: {
      // READ data must lie inside the message, past the fixed part.
      const Bytes m = AsMessage(in.rest, Command::kRead);
      auto r = DecodeReadResponse(m);
      if (r) ++decoded_count;
      if (r && !r->data.empty() &&
          (r->data.data() < m.data() + 80 ||
           r->data.data() + r->data.size() > m.data() + m.size())) {
        Fail("DecodeReadResponse bounds");
      }
      break;
    }
  }
}

inline void FuzzIoctl(const std::uint8_t* data, std::size_t size) {
  const Input in = Take(data, size);
  switch (in.selector % 5) {
    case 0: SMBGATE_MSG(Command::kIoctl, DecodeIoctlRequest); break;
    case 1: SMBGATE_MSG(Command::kIoctl, DecodeIoctlResponse); break;
    case 2:
      SMBGATE_PAYLOAD(DecodeValidateNegotiateInfoRequest,
                      EncodeValidateNegotiateInfoRequest);
      break;
    case 3:
      SMBGATE_PAYLOAD(DecodeValidateNegotiateInfoResponse,
                      EncodeValidateNegotiateInfoResponse);
      break;
    default:
      SMBGATE_PAYLOAD(DecodeSymlinkReparseBuffer, EncodeSymlinkReparseBuffer);
      break;
  }
}

inline void FuzzQueryDirectory(const std::uint8_t* data, std::size_t size) {
  const Input in = Take(data, size);
  switch (in.selector % 4) {
    case 0: SMBGATE_MSG(Command::kQueryDirectory, DecodeQueryDirectoryRequest); break;
    case 1: SMBGATE_MSG(Command::kQueryDirectory, DecodeQueryDirectoryResponse); break;
    case 2:
      SMBGATE_PAYLOAD(ParseFileIdBothDirectoryInformation,
                      EncodeFileIdBothDirectoryInformation);
      break;
    default:
      SMBGATE_PAYLOAD(ParseFileIdFullDirectoryInformation,
                      EncodeFileIdFullDirectoryInformation);
      break;
  }
}

inline void FuzzInfo(const std::uint8_t* data, std::size_t size) {
  const Input in = Take(data, size);
  switch (in.selector % 16) {
    case 0: SMBGATE_MSG(Command::kQueryInfo, DecodeQueryInfoRequest); break;
    case 1: SMBGATE_MSG(Command::kQueryInfo, DecodeQueryInfoResponse); break;
    case 2: SMBGATE_MSG(Command::kSetInfo, DecodeSetInfoRequest); break;
    case 3: SMBGATE_MSG(Command::kSetInfo, DecodeSetInfoResponse); break;
    case 4: SMBGATE_PAYLOAD(ParseFileBasicInformation, Encode); break;
    case 5: SMBGATE_PAYLOAD(ParseFileStandardInformation, Encode); break;
    case 6: SMBGATE_PAYLOAD(ParseFileInternalInformation, Encode); break;
    case 7: SMBGATE_PAYLOAD(ParseFileAllInformation, Encode); break;
    case 8: SMBGATE_PAYLOAD(ParseFileNetworkOpenInformation, Encode); break;
    case 9: SMBGATE_PAYLOAD(ParseFileEndOfFileInformation, Encode); break;
    case 10: SMBGATE_PAYLOAD(ParseFileRenameInformation, Encode); break;
    case 11: SMBGATE_PAYLOAD(ParseFileDispositionInformation, Encode); break;
    case 12: SMBGATE_PAYLOAD(ParseFileFsVolumeInformation, Encode); break;
    case 13: SMBGATE_PAYLOAD(ParseFileFsSizeInformation, Encode); break;
    case 14: SMBGATE_PAYLOAD(ParseFileFsFullSizeInformation, Encode); break;
    default: SMBGATE_PAYLOAD(ParseFileFsAttributeInformation, Encode); break;
  }
}

inline void FuzzNotify(const std::uint8_t* data, std::size_t size) {
  const Input in = Take(data, size);
  switch (in.selector % 7) {
    case 0: SMBGATE_MSG(Command::kChangeNotify, DecodeChangeNotifyRequest); break;
    case 1: SMBGATE_MSG(Command::kChangeNotify, DecodeChangeNotifyResponse); break;
    case 2: SMBGATE_PAYLOAD(ParseFileNotifyInformation, EncodeFileNotifyInformation); break;
    case 3: SMBGATE_MSG(Command::kOplockBreak, DecodeOplockBreak); break;
    case 4: SMBGATE_MSG(Command::kOplockBreak, DecodeLeaseBreakNotification); break;
    case 5: SMBGATE_MSG(Command::kOplockBreak, DecodeLeaseBreakAck); break;
    default: {
      // The classifier and the decoders agree on StructureSize.
      const Bytes m = AsMessage(in.rest, Command::kOplockBreak);
      auto k = ClassifyOplockBreak(m);
      if (!k) return;
      ++decoded_count;
      const bool ok = *k == OplockBreakKind::kOplock ? !!DecodeOplockBreak(m)
                      : *k == OplockBreakKind::kLease
                          ? !!DecodeLeaseBreakNotification(m)
                          : !!DecodeLeaseBreakAck(m);
      // A short body fails the decoder but not the classifier.
      (void)ok;
      break;
    }
  }
}

inline void FuzzError(const std::uint8_t* data, std::size_t size) {
  const Input in = Take(data, size);
  switch (in.selector % 3) {
    case 0: SMBGATE_MSG(Command::kCreate, DecodeErrorResponse); break;
    case 1: {
      const Bytes m = AsMessage(in.rest, Command::kCreate);
      auto e = DecodeErrorResponse(m);
      if (e && ParseErrorContexts(*e)) ++decoded_count;
      break;
    }
    default: {
      CheckPayload(
          in.rest, [](ByteSpan d) { return ParseSymbolicLinkError(d); },
          [](const SymbolicLinkErrorResponse& s) {
            WireWriter w;
            Encode(s, w);
            return w.Take();
          },
          "ParseSymbolicLinkError");
      break;
    }
  }
}

// smb2_dfs_referral_fuzz: the MS-DFSC referral payloads of
// FSCTL_DFS_GET_REFERRALS(_EX); the response is what a server (or whoever
// sits between) sends.
inline void FuzzDfsReferral(const std::uint8_t* data, std::size_t size) {
  const Input in = Take(data, size);
  switch (in.selector % 3) {
    case 0: SMBGATE_PAYLOAD(DecodeDfsReferralRequest, EncodeDfsReferralRequest); break;
    case 1: SMBGATE_PAYLOAD(DecodeDfsReferralRequestEx, EncodeDfsReferralRequestEx); break;
    default: SMBGATE_PAYLOAD(DecodeDfsReferralResponse, EncodeDfsReferralResponse); break;
  }
}

#undef SMBGATE_MSG
#undef SMBGATE_PAYLOAD

}  // namespace smbgate::smb2::fuzz
